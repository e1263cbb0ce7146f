using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Training;
using Elongate.Training;
using Elongate.Kernels;
using Elongate.Tests.Oracles;

namespace Elongate.Tests.Model;

/// <summary>
/// Prompt processing runs the tiled online-softmax kernel (<see cref="FlashAttention.ForwardCached"/>); these tests hold it
/// against the naive two-pass softmax (the oracle) on long prompts, against the training kernel and
/// <see cref="NaiveAttention"/> on random data, and check that its per-row arithmetic ignores how rows are batched.
/// </summary>
public class FlashPromptTests
{
    /// <summary>
    /// 1500-token prompts at context 2048, processed in batches of 512 (so queries start at offsets 0, 512, 1024 into
    /// the cache), flash vs naive, for plain RoPE and the two length-dependent types (whose keys are re-rotated per
    /// frequency set). Both are fp32 and differ only in summation order (online vs two-pass softmax): measured
    /// ≈1e-7 relative. Tolerance per row: max |Δ| ≤ 1e-5 · max |logit|.
    /// </summary>
    [SkippableTheory]
    [InlineData("default")]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    public void Flash_prompt_path_equals_the_naive_path_on_1500_tokens(string type)
    {
        var m = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        var c = RopeForwardTests.WithRope(m.Config, type, maxContext: 2048);
        var model = new LlamaModel { Config = c, Weights = m.Weights, Source = m.Source };
        var rng = new Random(11);
        var tokens = Enumerable.Range(0, 1500).Select(i => i == 0 ? 1 : 3 + rng.Next(509)).ToArray();
        var flash = new InferenceSession(model, 2048, batchSize: 512).ForwardAll(tokens);
        var naive = new InferenceSession(model, 2048, batchSize: 512) { AttentionOracle = NaiveSessionAttention.Rows(c) }.ForwardAll(tokens);
        double worst = 0;
        for (int t = 0; t < tokens.Length; t++)
        {
            double maxRef = naive[t].Max(Math.Abs), maxDiff = 0;
            for (int v = 0; v < naive[t].Length; v++) maxDiff = Math.Max(maxDiff, Math.Abs(flash[t][v] - naive[t][v]));
            worst = Math.Max(worst, maxDiff / maxRef);
            Assert.True(maxDiff <= 1e-5 * maxRef, $"{type} position {t}: max |Δ| {maxDiff:E2} vs max |logit| {maxRef:E2}");
        }
        // The paths really are different code (a copy of one path would pass trivially).
        Assert.True(worst > 0, "flash and naive logits are bit-identical: the oracle switch is not in effect");
    }

    [Theory]
    [InlineData(0, 37, 16, 2)]
    [InlineData(45, 1, 16, 2)]     // one decoding step deep in the cache
    [InlineData(45, 30, 16, 1)]    // multi-query
    [InlineData(100, 70, 64, 4)]   // default tile, offsets not multiples of it
    [InlineData(3, 5, 64, 2)]      // everything inside one tile
    public void Cached_kernel_matches_naive_attention_over_the_whole_sequence(int offset, int queries, int tile, int kvHeads)
    {
        // Naive attention over all offset + queries rows; its last `queries` rows are what the cached kernel computes.
        var rng = new Random(offset * 7 + queries + tile);
        int total = offset + queries;
        var shape = new AttentionShape(1, total, 4, kvHeads, 16);
        var q = GradCheck.RandomFloat(rng, total * shape.QDim, 2);
        var k = GradCheck.RandomFloat(rng, total * shape.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, total * shape.KvDim);
        var reference = new float[total * shape.QDim];
        NaiveAttention.Forward<float>(reference, new float[shape.NumHeads * total * total], q, k, v, shape);
        var output = new float[queries * shape.QDim];
        FlashAttention.ForwardCached<float>(output, q.AsSpan(offset * shape.QDim), k, v, queries, offset, 4, kvHeads, 16, tile);
        double err = GradCheck.RelativeError(output, reference.AsSpan(offset * shape.QDim));
        Assert.True(err <= 1e-5, $"relative error {err:E2}");
    }

    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    public void Cached_kernel_is_bit_identical_however_rows_are_batched(int tile)
    {
        // 150 rows at once, in chunks of 37, and one by one: the same bits (what makes prompt == token by token exact).
        var rng = new Random(tile);
        int total = 150, qDim = 4 * 16, kvDim = 2 * 16;
        var q = GradCheck.RandomFloat(rng, total * qDim, 2);
        var k = GradCheck.RandomFloat(rng, total * kvDim, 2);
        var v = GradCheck.RandomFloat(rng, total * kvDim);
        var all = new float[total * qDim];
        FlashAttention.ForwardCached<float>(all, q, k, v, total, 0, 4, 2, 16, tile);
        foreach (int chunk in new[] { 37, 1 })
        {
            var pieces = new float[total * qDim];
            for (int r0 = 0; r0 < total; r0 += chunk)
            {
                int n = Math.Min(chunk, total - r0);
                FlashAttention.ForwardCached<float>(pieces.AsSpan(r0 * qDim), q.AsSpan(r0 * qDim), k, v, n, r0, 4, 2, 16, tile);
            }
            Assert.True(all.AsSpan().SequenceEqual(pieces), $"chunks of {chunk} differ from the whole");
        }
        // And at offset 0 it is the training kernel's forward. That one runs its products as register-tiled GEMMs
        // (FlashAttentionTiled), which sum in another order than the cached kernel's row-by-row dots, so the two agree to
        // float rounding (relative 1e-5, as against the naive reference), not bit for bit.
        var output = new float[total * qDim];
        FlashAttention.Forward<float>(output, new float[4 * total], q, k, v, new AttentionShape(1, total, 4, 2, 16), default, tile);
        Assert.True(GradCheck.RelativeError(all, output) <= 1e-5, $"prompt vs training forward {GradCheck.RelativeError(all, output):E2}");
    }

    [Fact]
    public void Cached_kernel_rejects_short_buffers()
    {
        var buf = new float[64];
        Assert.Throws<ArgumentException>(() => FlashAttention.ForwardCached<float>(buf, buf, buf, buf, 2, 3, 2, 1, 16));
        Assert.Throws<ArgumentException>(() => FlashAttention.ForwardCached<float>(buf, buf, buf, buf, 1, 0, 3, 2, 16));
    }
}
