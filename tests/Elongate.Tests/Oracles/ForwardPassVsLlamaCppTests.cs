using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Model;
using Elongate.Tokenization;
using Xunit.Abstractions;

namespace Elongate.Tests.Oracles;

/// <summary>
/// Elongate's forward pass against llama.cpp's on the same GGUF files: logits for a prompt processed as one batch,
/// and greedy continuations. Tolerances are relative to the largest |logit| of each row:
/// <list type="bullet">
/// <item>F32 files: 1e-4. Both sides compute in float32 and differ only in summation order (a few ulps: measured
/// ≈1e-6 here), so 1e-4 has two orders of margin yet catches any real mistake (a wrong RoPE pair, eps or GQA
/// mapping moves logits by O(1)).</item>
/// <item>F16 files: 2e-3. llama.cpp's CPU F16 matmul rounds the activations to F16 (2^-11 relative) before every
/// projection; we keep activations in float32. LlamaCppOracle's notes give the measured 2.7e-4 for this file.</item>
/// </list>
/// </summary>
public sealed class ForwardPassVsLlamaCppTests(ITestOutputHelper output) : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-vs-llamacpp");

    public void Dispose() => _dir.Delete(true);

    private static double MaxRelativeDifference(float[][] ours, float[][] theirs)
    {
        Assert.Equal(theirs.Length, ours.Length);
        double worst = 0;
        for (int t = 0; t < ours.Length; t++)
        {
            Assert.Equal(theirs[t].Length, ours[t].Length);
            double scale = theirs[t].Max(Math.Abs), diff = 0;
            for (int v = 0; v < ours[t].Length; v++) diff = Math.Max(diff, Math.Abs(ours[t][v] - theirs[t][v]));
            worst = Math.Max(worst, diff / scale);
        }
        return worst;
    }

    private static int[] GreedyOurs(LlamaModel model, int[] prompt, int n)
    {
        var session = new InferenceSession(model, prompt.Length + n);
        var logits = session.Forward(prompt);
        var ids = new int[n];
        for (int i = 0; i < n; i++)
        {
            ids[i] = Sampler.ArgMax(logits);
            if (i + 1 < n) logits = session.Forward(ids[i]);
        }
        return ids;
    }

    [SkippableFact]
    public void Tiny_random_F16_logits_agree_with_llama_cpp()
    {
        var path = Fixtures.Path("models/llama-2-tiny-random.gguf");
        var model = GgufModelLoader.Load(path);
        int[] prompt = [1, 15043, 3186, 29892, 920, 526, 366, 29973]; // BOS "Hello world, how are you?"
        using var oracle = LlamaCppOracle.Open(path, contextSize: 64);
        Assert.Equal(prompt, oracle.Tokenize("Hello world, how are you?", addBos: true));
        double rel = MaxRelativeDifference(new InferenceSession(model).ForwardAll(prompt), oracle.Logits(prompt));
        output.WriteLine($"tiny-random F16: max relative logit difference {rel:G3}");
        Assert.True(rel < 2e-3, $"relative difference {rel}");
    }

    [SkippableFact]
    public void Tiny_random_rewritten_as_F32_agrees_with_llama_cpp_to_float_precision_and_greedy_ids_match()
    {
        var model = GgufModelLoader.Load(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var f32 = Path.Combine(_dir.FullName, "tiny-f32.gguf");
        ModelLoader.Save(model, f32, "f32");
        int[] prompt = [1, 15043, 3186, 29892, 920, 526, 366, 29973];
        using var oracle = LlamaCppOracle.Open(f32, contextSize: 64);
        double rel = MaxRelativeDifference(new InferenceSession(ModelLoader.Load(f32)).ForwardAll(prompt), oracle.Logits(prompt));
        output.WriteLine($"tiny-random F32: max relative logit difference {rel:G3}");
        Assert.True(rel < 1e-4, $"relative difference {rel}");
        Assert.Equal(oracle.GreedyContinuation(prompt, 24), GreedyOurs(model, prompt, 24));
    }

    [SkippableFact]
    public void Stories260K_written_by_our_GGUF_writer_runs_in_llama_cpp_with_the_same_logits_and_story()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var tokenizer = TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512);
        var path = Path.Combine(_dir.FullName, "stories260K-f32.gguf");
        ModelLoader.Save(model, path, "f32", tokenizer.Vocabulary);

        using var oracle = LlamaCppOracle.Open(path, contextSize: 512);
        var prompt = tokenizer.Encode("Once upon a time, there was a little girl named Lily.", addBos: true, addEos: false);
        Assert.Equal(prompt, oracle.Tokenize("Once upon a time, there was a little girl named Lily.", addBos: true));
        double rel = MaxRelativeDifference(new InferenceSession(ModelLoader.Load(path)).ForwardAll(prompt), oracle.Logits(prompt));
        output.WriteLine($"stories260K F32 GGUF: max relative logit difference {rel:G3}");
        Assert.True(rel < 1e-4, $"relative difference {rel}");

        // From BOS, llama.cpp's greedy story is llama2.c's recorded one (PROVENANCE §1), as is ours.
        var expected = GoldenGenerationTests.GreedyLikeRunC(model, 200).ToArray();
        Assert.Equal(expected, oracle.GreedyContinuation([1], 200));
    }

    [SkippableTheory]
    [InlineData("f16", 2e-3)]   // llama.cpp rounds activations to F16 for F16 weights (see class notes)
    [InlineData("q8_0", 3e-2)]  // llama.cpp quantizes activations to Q8_0 (8 bits per 32-block) for Q8_0 weights
    public void Stories260K_lower_precision_files_agree_with_llama_cpp(string type, double tolerance)
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var vocab = TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512).Vocabulary;
        var path = Path.Combine(_dir.FullName, $"stories260K-{type}.gguf");
        ModelLoader.Save(model, path, type, vocab);
        var prompt = GoldenGenerationTests.GreedyLikeRunC(model, 40).Prepend(1).ToArray();
        using var oracle = LlamaCppOracle.Open(path, contextSize: 64);
        double rel = MaxRelativeDifference(new InferenceSession(ModelLoader.Load(path)).ForwardAll(prompt), oracle.Logits(prompt));
        output.WriteLine($"stories260K {type}: max relative logit difference {rel:G3}");
        Assert.True(rel < tolerance, $"{type}: relative difference {rel}");
    }
}
