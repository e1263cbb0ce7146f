using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;
using LLama.Native;

namespace Elongate.Bench;

/// <summary>
/// Inference speed against llama.cpp on the same GGUF file, measured in the same run: `-- decode [--presets 5m,20m]
/// [--vocab 4096,32000] [--prompt 128] [--tokens 256] [--threads N] [--model a.gguf] [--out decode.json]`.
/// Each engine evaluates the same prompt as one batch (prompt tokens/s), then decodes greedily one token at a time
/// (generation tokens/s), after an untimed warm-up of the same shape. Models are made here with random weights and a
/// made-up vocabulary, written as F32 GGUF (the only type both engines compute in without rounding: llama.cpp would
/// quantize activations for Q8_0, and Elongate dequantizes every type to F32), or read with --model.
/// llama.cpp (LLamaSharp 0.30.0's CPU build) runs with its own defaults (F16 KV cache, flash attention auto) and the
/// same thread count. "GB/s" is the weight bytes streamed per generated token × tokens/s: the bound when the weights
/// do not fit in the caches.
/// </summary>
internal static class DecodeBench
{
    public static int Run(string[] args)
    {
        string[] presets = ["5m", "20m"];
        int[] vocabs = [4096, 32000];
        int prompt = 128, tokens = 256, threads = Environment.ProcessorCount;
        string? model = null, outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--presets": presets = args[++i].Split(','); break;
                case "--vocab": vocabs = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--prompt": prompt = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--tokens": tokens = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--threads": threads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--model": model = args[++i]; break;
                case "--out": outPath = args[++i]; break;
                default: Console.Error.WriteLine($"decode bench: unknown option {args[i]}"); return 2;
            }
        }
        var files = new List<(string Name, string Path)>();
        var temp = Directory.CreateTempSubdirectory("elongate-decode-bench").FullName;
        try
        {
            if (model is not null) files.Add((System.IO.Path.GetFileName(model), model));
            else
                foreach (var p in presets)
                    foreach (int v in vocabs)
                    {
                        var path = System.IO.Path.Combine(temp, $"{p}-v{v}.gguf");
                        MakeModel(p, v, prompt + tokens, path);
                        files.Add(($"{p}, vocab {v}", path));
                    }
            Console.WriteLine($"{Environment.ProcessorCount} cores, {threads} threads; prompt {prompt} tokens, then {tokens} generated");
            Console.WriteLine($"{"model",-18} {"params",8} {"MB",7} | {"ours pp",9} {"llama pp",9} {"ratio",6} | {"ours tg",9} {"llama tg",9} {"ratio",6} {"ours GB/s",10}");
            var rows = new List<object>();
            foreach (var (name, path) in files)
            {
                var m = ModelLoader.Load(path);
                long parameters = m.Config.ParameterCount();
                double mb = parameters * 4 / 1e6;
                var ours = Ours(m, prompt, tokens);
                var theirs = LlamaCpp(path, prompt, tokens, threads);
                double gbs = ours.Generate * (parameters - (long)m.Config.VocabSize * m.Config.HiddenSize * (m.Config.TieWordEmbeddings ? 0 : 1)) * 4 / 1e9;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{name,-18} {parameters / 1e6,7:F1}M {mb,7:F1} | {ours.Prompt,9:F0} {theirs.Prompt,9:F0} {ours.Prompt / theirs.Prompt,6:F2} | {ours.Generate,9:F0} {theirs.Generate,9:F0} {ours.Generate / theirs.Generate,6:F2} {gbs,10:F1}"));
                rows.Add(new
                {
                    model = name, parameters, weight_mb = mb, ours_prompt_tokens_per_s = ours.Prompt, llama_cpp_prompt_tokens_per_s = theirs.Prompt,
                    ours_generate_tokens_per_s = ours.Generate, llama_cpp_generate_tokens_per_s = theirs.Generate, ours_weight_gb_per_s = gbs,
                });
            }
            Console.WriteLine("pp = prompt tokens/s (one batch); tg = generated tokens/s (one at a time); ratio = ours / llama.cpp.");
            if (outPath is not null)
                File.WriteAllText(outPath, JsonSerializer.Serialize(new
                {
                    cores = Environment.ProcessorCount, threads, prompt, tokens, llama_cpp = "LLamaSharp.Backend.Cpu 0.30.0, " + NativeLibraryDescription(),
                    peak_working_set_mb = Process.GetCurrentProcess().PeakWorkingSet64 / 1e6, rows,
                }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        finally
        {
            Directory.Delete(temp, true);
        }
    }

    private static long ParameterCount(this LlamaConfig c) =>
        ModelPresets.NonEmbeddingParameters(c) + (long)c.VocabSize * c.HiddenSize * (c.TieWordEmbeddings ? 1 : 2);

    /// <summary>A random-weight model of the preset, with a vocabulary of made-up word pieces llama.cpp accepts.</summary>
    private static void MakeModel(string preset, int vocab, int context, string path)
    {
        var config = ModelPresets.Create(preset, vocab, Math.Max(context, 512));
        var training = new LlamaTrainingModel<float>(config, 1, 1);
        training.InitializeRandom(seed: 1);
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<TokenType> { TokenType.Unknown, TokenType.Control, TokenType.Control };
        for (int b = 0; b < 256; b++) { pieces.Add($"<0x{b:X2}>"); types.Add(TokenType.Byte); }
        while (pieces.Count < vocab) { pieces.Add($"\u2581w{pieces.Count}"); types.Add(TokenType.Normal); }
        var vocabulary = new TokenVocabulary { Pieces = pieces.ToArray(), Scores = pieces.Select((_, i) => -(float)i).ToArray(), Types = types.ToArray() };
        ModelLoader.Save(training.ToModel(), path, "f32", vocabulary);
    }

    private static int[] PromptTokens(int n, int vocab) => Enumerable.Range(0, n).Select(i => 259 + (i * 7919) % (vocab - 259)).ToArray();

    private static (double Prompt, double Generate) Ours(LlamaModel model, int prompt, int tokens)
    {
        var ids = PromptTokens(prompt, model.Config.VocabSize);
        var session = new InferenceSession(model, prompt + tokens);
        (double, double) Once(int generate)
        {
            session.Reset();
            var sw = Stopwatch.StartNew();
            var logits = session.Forward(ids);
            double pp = prompt / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int k = 0; k < generate; k++) logits = session.Forward(Sampler.ArgMax(logits));
            return (pp, generate / sw.Elapsed.TotalSeconds);
        }
        Once(Math.Min(tokens, 32));
        return Once(tokens);
    }

    private static (double Prompt, double Generate) LlamaCpp(string path, int prompt, int tokens, int threads)
    {
        if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
        {
            NativeLibraryConfig.All.WithCuda(false).WithVulkan(false).WithAutoFallback(true).WithLogCallback((_, _) => { });
            NativeApi.llama_empty_call(); // loads the best build for this CPU through LLamaSharp's resolver
        }
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        using var model = SafeLlamaModelHandle.LoadFromFile(path, mp);
        var cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)((prompt + tokens + 255) / 256 * 256);
        cp.n_batch = cp.n_ubatch = (uint)Math.Max(prompt, 32);
        cp.n_seq_max = 1;
        cp.n_threads = cp.n_threads_batch = threads;
        cp.no_perf = true;
        using var context = SafeLLamaContextHandle.Create(model, cp);
        var ids = PromptTokens(prompt, model.Vocab.Count);
        var batch = new LLamaBatch();
        void Decode()
        {
            var rc = context.Decode(batch);
            if (rc != DecodeResult.Ok) throw new InvalidOperationException($"llama_decode returned {rc} for {path}");
        }
        (double, double) Once(int generate)
        {
            context.MemoryClear(true);
            batch.Clear();
            for (int i = 0; i < prompt; i++) batch.Add(ids[i], i, LLamaSeqId.Zero, i == prompt - 1);
            var sw = Stopwatch.StartNew();
            Decode();
            double pp = prompt / sw.Elapsed.TotalSeconds;
            sw.Restart();
            for (int k = 0; k < generate; k++)
            {
                int next = Sampler.ArgMax(context.GetLogitsIth(batch.TokenCount - 1));
                batch.Clear();
                batch.Add(next, prompt + k, LLamaSeqId.Zero, true);
                Decode();
            }
            return (pp, generate / sw.Elapsed.TotalSeconds);
        }
        Once(Math.Min(tokens, 32));
        return Once(tokens);
    }

    private static string NativeLibraryDescription() =>
        NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama)?.Metadata?.ToString() ?? "unknown build";
}
