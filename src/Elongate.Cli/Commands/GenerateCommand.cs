using System.CommandLine;
using System.Globalization;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate generate --model M [--tokenizer T] --prompt P -n N [...]`: streams text as tokens arrive and reports
/// prompt and generation speed at the end (on stderr, so stdout holds only the text). Generation stops at any
/// end-of-generation token of the vocabulary (EOS, EOT, &lt;|im_end|&gt;…).
/// With --chat it is an interactive conversation in the terminal (<see cref="ChatSession"/>): lines typed on stdin
/// are user turns, replies stream to stdout, "/reset" starts over and "/exit" (or end of input) quits.
/// </summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = new Option<string?>("--model", "-m") { Description = "Model: GGUF, llama2.c .bin, or a Hugging Face folder (or give --endpoint)" };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin, tokenizer.json (or its folder) or a GGUF (default: the model's own vocabulary)" };
        var prompt = new Option<string>("--prompt", "-p") { Description = "Prompt text (default: empty, i.e. start from BOS)", DefaultValueFactory = _ => "" };
        var steps = new Option<int>("-n", "--steps") { Description = "Tokens to generate", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature", "-t") { Description = "Sampling temperature; 0 = greedy", DefaultValueFactory = _ => 0f };
        var topK = new Option<int>("--top-k") { Description = "Keep the k most likely tokens (0 = all)", DefaultValueFactory = _ => 0 };
        var topP = new Option<float>("--top-p") { Description = "Nucleus sampling mass (1 = off)", DefaultValueFactory = _ => 1f };
        var seed = new Option<int>("--seed") { Description = "Random seed for sampling", DefaultValueFactory = _ => 42 };
        var context = new Option<int?>("--context", "-c") { Description = "Context window in tokens (default: the model's trained context)" };
        var chat = new Option<bool>("--chat") { Description = "Interactive chat: read user turns from stdin (/reset, /exit), using the model's chat template" };
        var system = new Option<string?>("--system") { Description = "System message for --chat" };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template name, overriding the model's (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var special = new Option<bool>("--special") { Description = "Parse control tokens written in --prompt (e.g. <|eot_id|>) and print control tokens the model generates" };
        var lora = LoraOption.Create();
        var rope = new RopeOverrides();
        var run = new ModelOptions();
        var endpoint = new EndpointOptions();
        var cmd = new Command("generate", "Generate text from a prompt") { model, tokenizer, prompt, steps, temperature, topK, topP, seed, context, chat, system, chatTemplate, special, lora };
        rope.AddTo(cmd);
        run.AddTo(cmd);
        endpoint.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "generate", (stdout, stderr) =>
        {
            var options0 = new SamplingOptions { Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK), TopP = parse.GetValue(topP), Seed = parse.GetValue(seed) };
            if (endpoint.IsRemote(parse))
            {
                if (parse.GetValue(model) is not null) throw new ArgumentException("give either --model or --endpoint, not both");
                if (parse.GetValue(lora) is not null) throw new ArgumentException("--lora applies to a local --model, not to --endpoint");
                return RunRemote(parse, endpoint, parse.GetValue(chat), parse.GetValue(prompt)!, parse.GetValue(system), parse.GetValue(steps), options0, stdout, stderr);
            }
            var modelPath = parse.GetValue(model) ?? throw new ArgumentException("give --model (a local model file) or --endpoint (a model server)");
            using var loaded = run.Load(parse, modelPath);
            var (config, _) = rope.Apply(loaded.Config, parse, loaded.Source);
            var m = LoraOption.Apply(parse.GetValue(lora), loaded.With(config), stderr);
            var tok = LoadTokenizer(parse.GetValue(tokenizer), m);
            var options = options0;
            options.Validate();
            int n = parse.GetValue(steps);
            if (n < 0) throw new ArgumentException("-n must be ≥ 0");
            if (parse.GetValue(chat))
                return RunChat(parse, m, tok, config, parse.GetValue(context), parse.GetValue(system), parse.GetValue(chatTemplate), n, options, stdout, stderr);
            var v = tok.Vocabulary;
            var ids = tok.Encode(parse.GetValue(prompt)!, addBos: v.BosId >= 0 && (v.AddBos || v.Kind == VocabularyKind.SentencePiece), addEos: false,
                parseSpecial: parse.GetValue(special));
            if (ids.Length == 0) throw new ArgumentException("the prompt is empty and the vocabulary has no BOS to start from: give --prompt");
            int ctx = parse.GetValue(context) ?? Math.Max(config.MaxPositionEmbeddings, ids.Length + n);
            if (ids.Length + n > ctx) throw new ArgumentException($"prompt ({ids.Length} tokens) + {n} new tokens exceed --context {ctx}");
            ModelOptions.PrintMemory(stderr, m, ctx);
            var session = new InferenceSession(m, ctx);
            var decoder = new StreamingDecoder(tok, parse.GetValue(special));
            foreach (var id in ids) stdout.Write(decoder.Push(id));
            var stats = TextGenerator.Generate(session, ids, n, new Sampler(options),
                id => { stdout.Write(decoder.Push(id)); stdout.Flush(); return true; }, v.EndOfGenerationIds(), CancellationToken.None);
            stdout.Write(decoder.Flush());
            stdout.WriteLine();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prompt: {stats.PromptTokens} tokens, {stats.PromptTokensPerSecond:F1} tok/s; generated: {stats.GeneratedTokens} tokens, {stats.GeneratedTokensPerSecond:F1} tok/s"));
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// Chat with a model behind an OpenAI-compatible server: with --chat the same terminal loop as for a local model
    /// (the server applies its chat template); otherwise --prompt is sent as one user message and the reply printed.
    /// </summary>
    private static int RunRemote(ParseResult parse, EndpointOptions endpoint, bool interactive, string prompt, string? system, int maxNew,
        SamplingOptions sampling, TextWriter stdout, TextWriter stderr)
    {
        sampling.Validate();
        var (client, name) = endpoint.Create(parse);
        using var _ = client;
        var options = new Microsoft.Extensions.AI.ChatOptions
        {
            MaxOutputTokens = maxNew, Temperature = sampling.Temperature, TopP = sampling.TopP,
            TopK = sampling.TopK > 0 ? sampling.TopK : null, Seed = sampling.Seed,
        };
        var history = new List<Microsoft.Extensions.AI.ChatMessage>();
        if (system is not null) history.Add(new(Microsoft.Extensions.AI.ChatRole.System, system));
        string Reply(string user)
        {
            history.Add(new(Microsoft.Extensions.AI.ChatRole.User, user));
            var text = new System.Text.StringBuilder();
            foreach (var update in client.GetStreamingResponseAsync(history, options).ToBlockingEnumerable())
            {
                stdout.Write(update.Text);
                stdout.Flush();
                text.Append(update.Text);
            }
            stdout.WriteLine();
            history.Add(new(Microsoft.Extensions.AI.ChatRole.Assistant, text.ToString()));
            return text.ToString();
        }
        stderr.WriteLine($"remote model: {name} at {parse.GetValue(endpoint.Endpoint)}");
        if (!interactive)
        {
            Reply(prompt);
            return 0;
        }
        return ChatLoop(stdout, stderr, () => history.RemoveAll(m => m.Role != Microsoft.Extensions.AI.ChatRole.System), line => Reply(line));
    }

    /// <summary>The terminal chat loop: one user turn per input line, "/reset" starts over, "/exit" or end of input quits.</summary>
    private static int ChatLoop(TextWriter stdout, TextWriter stderr, Action reset, Action<string> turn)
    {
        var input = ElongateCli.Input;
        while (true)
        {
            stdout.Write("> ");
            stdout.Flush();
            var line = input.ReadLine();
            if (line is null || line.Trim() == "/exit") return 0;
            if (line.Trim() == "/reset")
            {
                reset();
                stderr.WriteLine("(conversation reset)");
            }
            else if (line.Length > 0) turn(line);
        }
    }

    /// <summary>--chat with a local model (<see cref="ChatSession"/>).</summary>
    private static int RunChat(ParseResult parse, LlamaModel m, ITokenizer tok, LlamaConfig config, int? context, string? system,
        string? templateName, int maxNew, SamplingOptions options, TextWriter stdout, TextWriter stderr)
    {
        var template = ChatTemplate.Resolve(templateName, tok.Vocabulary.ChatTemplate, m.Source);
        int ctx = context ?? config.MaxPositionEmbeddings;
        ModelOptions.PrintMemory(stderr, m, ctx);
        var chat = new ChatSession(new InferenceSession(m, ctx), tok, template, system);
        var sampler = new Sampler(options);
        stderr.WriteLine($"chat template: {template.Name}; context {ctx} tokens; /reset starts over, /exit quits");
        return ChatLoop(stdout, stderr, chat.Reset, line =>
        {
            var reply = chat.Respond(line, maxNew, sampler, text => { stdout.Write(text); stdout.Flush(); });
            stdout.WriteLine();
            stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{reply.FinishReason.ToString().ToLowerInvariant()}; prompt {reply.PromptTokens} tokens ({reply.ReusedTokens} reused from the cache), {reply.Stats.GeneratedTokens} generated at {reply.Stats.GeneratedTokensPerSecond:F1} tok/s]"));
        });
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
