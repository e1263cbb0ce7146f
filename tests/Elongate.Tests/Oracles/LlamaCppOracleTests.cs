using System.Buffers.Binary;
using System.Text;
using Xunit.Abstractions;

namespace Elongate.Tests.Oracles;

/// <summary>
/// Proves that llama.cpp (via LLamaSharp) loads and behaves as a usable oracle on this machine. Elongate's own forward
/// pass is compared with it in <see cref="ForwardPassVsLlamaCppTests"/>.
/// </summary>
public sealed class LlamaCppOracleTests(ITestOutputHelper output)
{
    private const string TinyModel = "models/llama-2-tiny-random.gguf";

    // BOS + "Hello world" with the Llama 2 tokenizer: 15043 = "▁Hello", 3186 = "▁world" (also line 11 of
    // ggml-vocab-llama-spm.gguf.out, llama.cpp's own expected output).
    private static readonly int[] HelloWorld = [1, 15043, 3186];

    [SkippableFact]
    public void TinyRandomLoadsWithItsShape()
    {
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 64);
        output.WriteLine($"native library: {LlamaCppOracle.NativeLibraryDescription}");
        Assert.Equal(32000, oracle.VocabSize);
        Assert.Equal(8, oracle.EmbeddingSize);
        Assert.Equal(1, oracle.LayerCount);
        Assert.Equal(256, oracle.ContextSize); // 64 rounded up to llama.cpp's padding of 256
        Assert.Equal(1, oracle.BosId);
        Assert.Equal(2, oracle.EosId);
    }

    [SkippableFact]
    public void LogitsAreFiniteAndDeterministic()
    {
        var path = Fixtures.Path(TinyModel);
        using var oracle = LlamaCppOracle.Open(path, contextSize: 64);
        Assert.Equal(HelloWorld, oracle.Tokenize("Hello world", addBos: true));

        var first = oracle.Logits(HelloWorld);
        Assert.Equal(HelloWorld.Length, first.Length);
        foreach (var row in first)
        {
            Assert.Equal(32000, row.Length);
            Assert.All(row, v => Assert.True(float.IsFinite(v)));
            Assert.True(row.Max() > row.Min(), "a logits row is constant");
        }
        // Rows differ by position: the model is causal and position-dependent.
        Assert.NotEqual(first[0], first[1]);

        var again = oracle.Logits(HelloWorld);
        using var other = LlamaCppOracle.Open(path, contextSize: 64);
        var fresh = other.Logits(HelloWorld);
        for (var i = 0; i < first.Length; i++)
        {
            Assert.Equal(first[i], again[i]); // bit-identical: same instance, cache cleared between calls
            Assert.Equal(first[i], fresh[i]); // bit-identical: a second model and context
        }

        // Causality: the logits of a prefix do not depend on what follows it.
        var prefix = oracle.Logits(HelloWorld.AsSpan(0, 2));
        var maxDiff = 0.0;
        for (var i = 0; i < 2; i++)
            for (var v = 0; v < prefix[i].Length; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(prefix[i][v] - first[i][v]));
        output.WriteLine($"prefix vs full prompt, max |diff| = {maxDiff:G3}");
        Assert.True(maxDiff < 1e-5, $"prefix logits differ by {maxDiff}");
    }

    [SkippableFact]
    public void GreedyContinuationIsDeterministicAndAgreesWithBatchLogits()
    {
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 64);
        var a = oracle.GreedyContinuation(HelloWorld, 16);
        var b = oracle.GreedyContinuation(HelloWorld, 16);
        output.WriteLine("greedy: " + string.Join(' ', a));
        Assert.Equal(16, a.Length);
        Assert.Equal(a, b);
        Assert.All(a, t => Assert.InRange(t, 0, 31999));

        // The continuation, re-evaluated as one batch, must pick the same argmax at every step wherever the top two
        // logits are not a near tie (incremental and batched evaluation round differently, by ~1e-6).
        var all = HelloWorld.Concat(a).ToArray();
        var rows = oracle.Logits(all);
        var checkedSteps = 0;
        for (var k = 0; k < a.Length; k++)
        {
            var row = rows[HelloWorld.Length - 1 + k];
            var (top, second) = TopTwo(row);
            if (top - second < 1e-4f) continue;
            checkedSteps++;
            Assert.Equal(LlamaCppOracle.ArgMax(row), a[k]);
        }
        output.WriteLine($"{checkedSteps} of 16 greedy steps checked against batch argmax");
        Assert.True(checkedSteps >= 12, $"only {checkedSteps} of 16 steps were clear enough to check");
    }

    [SkippableFact]
    public void TokenizerReproducesLlamaCppVocabTestVectors()
    {
        var inp = File.ReadAllText(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        var outLines = File.ReadAllLines(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.out"));
        var inputs = inp.Split("\n__ggml_vocab_test__\n");
        Assert.True(inputs.Length >= 10 && outLines.Length >= 10);

        // The tiny model carries the same 32000-entry Llama 2 vocabulary as the tokenizer-only GGUF.
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        for (var i = 0; i < 10; i++)
        {
            var expected = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            Assert.Equal(expected, oracle.Tokenize(inputs[i], addBos: false));
            Assert.Equal([1, .. expected], oracle.Tokenize(inputs[i], addBos: true));
        }
    }

    [SkippableFact]
    public void TokenizerReproducesAllLlamaCppVocabTestVectors()
    {
        // All 46 strings (unicode, whitespace runs, digits, emoji), reported together so one run shows every mismatch.
        var inp = File.ReadAllText(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        var outLines = File.ReadAllLines(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.out"));
        var inputs = inp.Split("\n__ggml_vocab_test__\n");
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        var mismatches = new List<string>();
        for (var i = 0; i < outLines.Length; i++)
        {
            var expected = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var got = oracle.Tokenize(inputs[i], addBos: false);
            if (!expected.SequenceEqual(got)) mismatches.Add($"#{i}: expected [{string.Join(' ', expected)}] got [{string.Join(' ', got)}]");
        }
        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
    }

    [SkippableFact]
    public void RejectsBadInputWithClearErrors()
    {
        var notGguf = Path.Combine(Path.GetTempPath(), $"elongate-oracle-bad-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(notGguf, Encoding.ASCII.GetBytes("this is not a GGUF file at all"));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => LlamaCppOracle.Open(notGguf, contextSize: 16));
            Assert.Contains(notGguf, e.Message);
            output.WriteLine(e.Message);
        }
        finally
        {
            File.Delete(notGguf);
        }

        var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => oracle.Logits([1, 32000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => oracle.Logits([-1]));
        Assert.Throws<ArgumentException>(() => oracle.GreedyContinuation([1], oracle.ContextSize));
        Assert.Throws<ArgumentException>(() => oracle.GreedyContinuation([], 1));
        Assert.Empty(oracle.GreedyContinuation([1], 0));
        oracle.Dispose();
        oracle.Dispose();
        Assert.Throws<ObjectDisposedException>(() => oracle.Logits([1]));
    }

    private static (float Top, float Second) TopTwo(float[] row)
    {
        float top = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (var v in row)
        {
            if (v > top) { second = top; top = v; }
            else if (v > second) second = v;
        }
        return (top, second);
    }
}
