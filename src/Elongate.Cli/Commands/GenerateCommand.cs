using System.CommandLine;
using System.Globalization;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate generate --model M [--tokenizer T] --prompt P -n N [...]`: streams text as tokens arrive and reports
/// prompt and generation speed at the end (on stderr, so stdout holds only the text).
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: GGUF, llama2.c .bin, or a Hugging Face folder", Required = true };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin or a GGUF (default: the model's own vocabulary)" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (default: empty, i.e. start from BOS)", DefaultValueFactory = _ => "" };
        var steps = new Option<int>("-n", "--steps") { Description = "Tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1f };
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling", DefaultValueFactory = _ => 42 };
        var context = new Option<int?>("--context", "-c") { Description = "Context window in tokens (default: the model's trained context)" };
        var rope = new RopeOverrides();
        var run = new ModelOptions();
        var cmd = new Command("generate", "Generate text from a prompt") { model, tokenizer, prompt, steps, temperature, topK, topP, seed, context };
        rope.AddTo(cmd);
        run.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "generate", (stdout, stderr) =>
        {
            using var loaded = run.Load(parse, parse.GetValue(model)!);
            var (config, _) = rope.Apply(loaded.Config, parse, loaded.Source);
            var m = loaded.With(config);
            var tok = LoadTokenizer(parse.GetValue(tokenizer), m);
            var options = new SamplingOptions { Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP), Seed = parse.GetValue(seed) };
            options.Validate();
            int n = parse.GetValue(steps);
            if (n < 0) throw new ArgumentException("-n must be ≥ 0");
            var ids = tok.Encode(parse.GetValue(prompt)!, addBos: true, addEos: false);
            int ctx = parse.GetValue(context) ?? Math.Max(config.MaxPositionEmbeddings, ids.Length + n);
            if (ids.Length + n > ctx) throw new ArgumentException($"prompt ({ids.Length} tokens) + {n} new tokens exceed --context {ctx}");
            ModelOptions.PrintMemory(stderr, m, ctx);
            var session = new InferenceSession(m, ctx);
            var decoder = new StreamingDecoder(tok);
            foreach (var id in ids) stdout.Write(decoder.Push(id));
            var stats = TextGenerator.Generate(session, ids, n, new Sampler(options), id => { stdout.Write(decoder.Push(id)); stdout.Flush(); });
            stdout.Write(decoder.Flush());
            stdout.WriteLine();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prompt: {stats.PromptTokens} tokens, {stats.PromptTokensPerSecond:F1} tok/s; generated: {stats.GeneratedTokens} tokens, {stats.GeneratedTokensPerSecond:F1} tok/s"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>The tokenizer given on the command line, else the vocabulary embedded in the model file.</summary>
    internal static ITokenizer LoadTokenizer(string? path, LlamaModel model)
    {
        if (path is not null)
        {
            var tok = TokenizerLoader.Load(path, model.Config.VocabSize);
            if (tok.Vocabulary.Count != model.Config.VocabSize)
                throw new ModelFormatException(path, $"tokenizer has {tok.Vocabulary.Count} pieces but the model's vocabulary is {model.Config.VocabSize}");
            return tok;
        }
        if (model.Vocabulary is not null) return TokenizerLoader.FromVocabulary(model.Vocabulary, model.Source);
        throw new ArgumentException($"{model.Source} carries no vocabulary: give --tokenizer (tokenizer.model or tokenizer.bin)");
    }
}
