using Elongate.Formats;
using Elongate.Model;
using LLama;
using LLama.Common;
using LLama.Native;

namespace Elongate.Tests.Formats;

/// <summary>
/// Files written by <see cref="GgufModelWriter"/> are loaded and run by llama.cpp itself (LLamaSharp 0.30.0's CPU
/// build), the reference that defines what a valid Llama GGUF is.
/// </summary>
public class LlamaCppAcceptanceTests
{
    /// <summary>llama.cpp's tokenization of <paramref name="text"/> (with BOS) and its logits after the whole sequence.</summary>
    internal static (int[] Tokens, float[] Logits, int VocabCount, IReadOnlyDictionary<string, string> Meta) RunLlamaCpp(string path, string text)
    {
        LlamaCppNative.EnsureLoaded();
        lock (LlamaCppNative.Lock)
        {
            var p = new ModelParams(path) { ContextSize = 64, BatchSize = 64, GpuLayerCount = 0, Threads = 1 };
            using var w = LLamaWeights.LoadFromFile(p);
            using var ctx = w.CreateContext(p);
            var toks = ctx.Tokenize(text, addBos: true);
            var batch = new LLamaBatch();
            for (int i = 0; i < toks.Length; i++) batch.Add(toks[i], i, LLamaSeqId.Zero, i == toks.Length - 1);
            Assert.Equal(DecodeResult.Ok, ctx.NativeHandle.Decode(batch));
            var logits = ctx.NativeHandle.GetLogitsIth(batch.TokenCount - 1).ToArray();
            return (toks.Select(t => (int)t).ToArray(), logits, w.Vocab.Count, w.Metadata);
        }
    }

    private const string Prompt = "Once upon a time, there was a little girl named Lily. Héllo 世界!";

    [SkippableFact]
    public void FixtureRewrittenByTheModelWriterGivesBitIdenticalLlamaCppLogits()
    {
        var original = Fixtures.Path("models/llama-2-tiny-random.gguf");
        var model = GgufModelLoader.Load(original);
        var dir = Directory.CreateTempSubdirectory("gguf-llamacpp");
        try
        {
            var ours = Path.Combine(dir.FullName, "rewritten-f16.gguf");
            GgufModelWriter.Save(ours, model, GgufOutputType.F16, name: "LLaMA v2");
            var a = RunLlamaCpp(original, Prompt);
            var b = RunLlamaCpp(ours, Prompt);
            Assert.Equal(32000, b.VocabCount);
            Assert.Equal(a.Tokens, b.Tokens);
            Assert.True(a.Tokens.Length > 10);
            // The F16 matrices re-encode to the same bytes and every hyper-parameter is read the same way, so llama.cpp
            // computes the very same numbers.
            Assert.Equal(a.Logits, b.Logits);
            Assert.Equal("10000.000000", b.Meta["llama.rope.freq_base"]);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void EveryOutputTypeLoadsAndRunsInLlamaCpp()
    {
        // stories260K's shape (dim 64, hidden 172: ffn_down falls back to F16 under Q8_0), GQA 8/4 heads, tied head.
        var m = GgufTestModels.Random(dim: 64, hidden: 172, layers: 2, heads: 8, kvHeads: 4, vocab: 300, tied: true, seed: 11, withVocab: false);
        m = new LlamaModel { Config = m.Config, Weights = m.Weights, Vocabulary = GgufTestModels.ByteVocabulary(41), Source = "rand" };
        var dir = Directory.CreateTempSubdirectory("gguf-llamacpp");
        try
        {
            var results = new Dictionary<GgufOutputType, float[]>();
            int[]? tokens = null;
            foreach (var type in Enum.GetValues<GgufOutputType>())
            {
                var path = Path.Combine(dir.FullName, $"rand-{type}.gguf");
                GgufModelWriter.Save(path, m, type, name: "rand");
                var r = RunLlamaCpp(path, "once a");
                Assert.Equal(300, r.VocabCount);
                Assert.Equal(GgufModelWriter.FileType(type).ToString(), r.Meta["general.file_type"]);
                Assert.All(r.Logits, v => Assert.True(float.IsFinite(v)));
                Assert.Equal(300, r.Logits.Length);
                tokens ??= r.Tokens;
                Assert.Equal(tokens, r.Tokens);
                results[type] = r.Logits;
            }
            // Our vocabulary as llama.cpp's SentencePiece merge reads it: no "▁o"/"on"/… pieces exist, so "▁once" stays in
            // pieces (▁ o n, 'c' by byte fallback, e), while "▁a" merges: BOS ▁ o n <0x63> e ▁a.
            Assert.Equal([1, 271, 269, 270, 3 + 'c', 266, 260], tokens!);
            // Lower-precision files must give nearly the F32 logits: a mis-packed tensor would give unrelated numbers.
            // Tolerances (relative L2): fp16 2^-11 weight rounding → ~1e-3; bf16 2^-8 and Q8_0 (~d/2 per weight) → a few 1e-2.
            foreach (var (type, tol) in new[] { (GgufOutputType.F16, 5e-3), (GgufOutputType.BF16, 5e-2), (GgufOutputType.Q8_0, 5e-2) })
            {
                double err = RelL2(results[GgufOutputType.F32], results[type]);
                Assert.True(err < tol, $"{type}: relative L2 error {err} ≥ {tol}");
            }
        }
        finally { dir.Delete(true); }
    }

    private static double RelL2(float[] reference, float[] x)
    {
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++) { num += Math.Pow(reference[i] - x[i], 2); den += Math.Pow(reference[i], 2); }
        return Math.Sqrt(num / den);
    }
}
