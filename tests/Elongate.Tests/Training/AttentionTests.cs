using Elongate.Training;
using Elongate.Kernels;
using Elongate.Tests.Oracles;

namespace Elongate.Tests.Training;

/// <summary>
/// Flash attention against the naive T×T oracle (outputs and all three gradients, relative error ≤ 1e-5 as
/// ‖a − b‖/‖b‖ over the tensor: both are fp32 with different summation orders, which differ by ~1e-7 relative),
/// and both attentions' backward passes against central differences in double.
/// </summary>
public class AttentionTests
{
    private static int[] Segments(int batch, int seqLen)
    {
        // Documents of uneven lengths packed into each row, boundaries falling inside and across tiles.
        var seg = new int[batch * seqLen];
        for (int b = 0; b < batch; b++)
        {
            int id = 0, len = 0, docLen = 3 + b;
            for (int t = 0; t < seqLen; t++)
            {
                if (len == docLen) { id++; len = 0; docLen = docLen * 2 + 1; }
                seg[b * seqLen + t] = id;
                len++;
            }
        }
        return seg;
    }

    [Theory]
    [InlineData(1, 16, 2, false)]
    [InlineData(5, 16, 2, false)]
    [InlineData(16, 16, 2, false)]
    [InlineData(33, 16, 2, false)]
    [InlineData(70, 64, 2, false)]   // default tile, T not a multiple of it
    [InlineData(70, 16, 1, false)]   // multi-query: one key/value head
    [InlineData(47, 16, 4, false)]   // plain multi-head
    [InlineData(33, 16, 2, true)]
    [InlineData(70, 64, 2, true)]
    [InlineData(129, 32, 1, true)]
    public void Flash_matches_naive_outputs_and_gradients(int seqLen, int tile, int kvHeads, bool segmented)
    {
        var rng = new Random(seqLen * 31 + tile + kvHeads);
        var shape = new AttentionShape(Batch: 2, SeqLen: seqLen, NumHeads: 4, NumKvHeads: kvHeads, HeadDim: 16);
        int rows = shape.Batch * seqLen;
        var q = GradCheck.RandomFloat(rng, rows * shape.QDim, 2);
        var k = GradCheck.RandomFloat(rng, rows * shape.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, rows * shape.KvDim);
        var dOut = GradCheck.RandomFloat(rng, rows * shape.QDim);
        int[] seg = segmented ? Segments(shape.Batch, seqLen) : [];

        var outFlash = new float[rows * shape.QDim];
        var lse = new float[rows * shape.NumHeads];
        FlashAttention.Forward<float>(outFlash, lse, q, k, v, shape, seg, tile);
        var dqF = new float[q.Length]; var dkF = new float[k.Length]; var dvF = new float[v.Length];
        FlashAttention.Backward<float>(dqF, dkF, dvF, dOut, q, k, v, outFlash, lse, shape, seg, tile);

        var outNaive = new float[outFlash.Length];
        var probs = new float[shape.Batch * shape.NumHeads * seqLen * seqLen];
        NaiveAttention.Forward<float>(outNaive, probs, q, k, v, shape, seg);
        var dqN = new float[q.Length]; var dkN = new float[k.Length]; var dvN = new float[v.Length];
        NaiveAttention.Backward<float>(dqN, dkN, dvN, dOut, q, k, v, probs, shape, seg);

        Assert.True(GradCheck.RelativeError(outFlash, outNaive) <= 1e-5, $"output {GradCheck.RelativeError(outFlash, outNaive):E2}");
        Assert.True(GradCheck.RelativeError(dqF, dqN) <= 1e-5, $"dQ {GradCheck.RelativeError(dqF, dqN):E2}");
        Assert.True(GradCheck.RelativeError(dkF, dkN) <= 1e-5, $"dK {GradCheck.RelativeError(dkF, dkN):E2}");
        Assert.True(GradCheck.RelativeError(dvF, dvN) <= 1e-5, $"dV {GradCheck.RelativeError(dvF, dvN):E2}");

        // The saved statistic is the log-sum-exp of each row's visible scaled scores.
        int b = 1, h = 3, t = seqLen - 1;
        double max = double.NegativeInfinity;
        var scores = new List<double>();
        for (int s = 0; s <= t; s++)
        {
            if (segmented && seg[b * seqLen + s] != seg[b * seqLen + t]) continue;
            double dot = 0;
            for (int i = 0; i < 16; i++) dot += (double)q[(b * seqLen + t) * shape.QDim + h * 16 + i] * k[(b * seqLen + s) * shape.KvDim + h / shape.Group * 16 + i];
            scores.Add(dot / 4);
            max = Math.Max(max, dot / 4);
        }
        double expectedLse = max + Math.Log(scores.Sum(x => Math.Exp(x - max)));
        Assert.Equal(expectedLse, lse[(b * shape.NumHeads + h) * seqLen + t], 4);
    }

    /// <summary>
    /// The fp32 kernels run as register-tiled GEMMs (<see cref="FlashAttentionTiled"/>): at the training head size 64
    /// the tiles fill whole 12×32 micro-tiles and the vector packers' transposes, batch 1 with one key/value head
    /// splits the backward into lanes whose dQ copies are summed at the end. Same 1e-5 bound as above (fp32 sums in a
    /// different order; measured ~1e-7).
    /// </summary>
    [Theory]
    [InlineData(1, false, 64)]
    [InlineData(4, false, 64)]
    [InlineData(1, true, 64)]
    [InlineData(2, false, 48)]
    public void Tiled_kernel_matches_naive_at_training_head_size(int kvHeads, bool segmented, int tile)
    {
        var rng = new Random(kvHeads * 7 + tile);
        var shape = new AttentionShape(Batch: 1, SeqLen: 203, NumHeads: 4, NumKvHeads: kvHeads, HeadDim: 64);
        int rows = shape.SeqLen;
        var q = GradCheck.RandomFloat(rng, rows * shape.QDim, 2);
        var k = GradCheck.RandomFloat(rng, rows * shape.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, rows * shape.KvDim);
        var dOut = GradCheck.RandomFloat(rng, rows * shape.QDim);
        int[] seg = segmented ? Segments(1, rows) : [];
        var o = new float[rows * shape.QDim];
        var lse = new float[rows * shape.NumHeads];
        FlashAttention.Forward<float>(o, lse, q, k, v, shape, seg, tile);
        var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
        FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape, seg, tile);
        var oN = new float[o.Length];
        var probs = new float[shape.NumHeads * rows * rows];
        NaiveAttention.Forward<float>(oN, probs, q, k, v, shape, seg);
        var dqN = new float[q.Length]; var dkN = new float[k.Length]; var dvN = new float[v.Length];
        NaiveAttention.Backward<float>(dqN, dkN, dvN, dOut, q, k, v, probs, shape, seg);
        foreach (var (name, x, y) in new[] { ("output", o, oN), ("dQ", dq, dqN), ("dK", dk, dkN), ("dV", dv, dvN) })
            Assert.True(GradCheck.RelativeError(x, y) <= 1e-5, $"{name} {GradCheck.RelativeError(x, y):E2}");
    }

    /// <summary>
    /// The fine-tuning shape (packed examples right-padded, head size 8, 4 query / 2 key-value heads, T = 16, batch 16)
    /// with padding rows filled with ordinary values: the tiled fp32 kernel against the naive reference on the
    /// non-padding rows, which must also get nothing from (and give nothing to) the padding.
    /// </summary>
    [Fact]
    public void Tiled_kernel_matches_naive_on_padded_fine_tuning_batches()
    {
        var rng = new Random(16);
        var shape = new AttentionShape(Batch: 16, SeqLen: 16, NumHeads: 4, NumKvHeads: 2, HeadDim: 8);
        int rows = shape.Batch * shape.SeqLen;
        var seg = new int[rows];
        for (int b = 0; b < shape.Batch; b++)
        {
            int used = 5 + b % 11, id = 0;
            for (int t = 0; t < shape.SeqLen; t++)
            {
                if (t > 0 && t % (3 + b % 4) == 0) id++;
                seg[b * shape.SeqLen + t] = t < used ? id : FlashAttention.PaddingSegment;
            }
        }
        var q = GradCheck.RandomFloat(rng, rows * shape.QDim, 2);
        var k = GradCheck.RandomFloat(rng, rows * shape.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, rows * shape.KvDim);
        var dOut = GradCheck.RandomFloat(rng, rows * shape.QDim);
        for (int r = 0; r < rows; r++)
            if (seg[r] == FlashAttention.PaddingSegment) dOut.AsSpan(r * shape.QDim, shape.QDim).Clear(); // the loss ignores padding
        var o = new float[rows * shape.QDim];
        var lse = new float[rows * shape.NumHeads];
        FlashAttention.Forward<float>(o, lse, q, k, v, shape, seg);
        var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
        FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape, seg);
        var oN = new float[o.Length];
        var probs = new float[shape.Batch * shape.NumHeads * shape.SeqLen * shape.SeqLen];
        NaiveAttention.Forward<float>(oN, probs, q, k, v, shape, seg);
        var dqN = new float[q.Length]; var dkN = new float[k.Length]; var dvN = new float[v.Length];
        NaiveAttention.Backward<float>(dqN, dkN, dvN, dOut, q, k, v, probs, shape, seg);
        // The naive reference treats the padding id as one more document (padding rows attend to each other); the
        // kernel gives them zero output. With zero dOut there, gradients agree everywhere.
        for (int r = 0; r < rows; r++)
            if (seg[r] == FlashAttention.PaddingSegment) oN.AsSpan(r * shape.QDim, shape.QDim).Clear();
        foreach (var (name, x, y) in new[] { ("output", o, oN), ("dQ", dq, dqN), ("dK", dk, dkN), ("dV", dv, dvN) })
            Assert.True(GradCheck.RelativeError(x, y) <= 1e-5, $"{name} {GradCheck.RelativeError(x, y):E2}");
    }

    [Fact]
    public void Segment_mask_makes_documents_independent()
    {
        // With a mask, the output at a token of document 2 must not change when document 1's tokens change.
        var rng = new Random(11);
        var shape = new AttentionShape(1, 12, 2, 1, 8);
        int[] seg = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1];
        var q = GradCheck.RandomFloat(rng, 12 * shape.QDim);
        var k = GradCheck.RandomFloat(rng, 12 * shape.KvDim);
        var v = GradCheck.RandomFloat(rng, 12 * shape.KvDim);
        var out1 = new float[q.Length];
        FlashAttention.Forward<float>(out1, new float[24], q, k, v, shape, seg, 4);
        for (int i = 0; i < 5 * shape.KvDim; i++) { k[i] += 1; v[i] -= 2; }
        var out2 = new float[q.Length];
        FlashAttention.Forward<float>(out2, new float[24], q, k, v, shape, seg, 4);
        Assert.Equal(out1.AsSpan(5 * shape.QDim).ToArray(), out2.AsSpan(5 * shape.QDim).ToArray());
        Assert.NotEqual(out1.AsSpan(0, 5 * shape.QDim).ToArray(), out2.AsSpan(0, 5 * shape.QDim).ToArray());
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Attention_backward_matches_finite_differences(bool flash, bool segmented)
    {
        var rng = new Random(12 + (flash ? 1 : 0) + (segmented ? 2 : 0));
        // Tile 3 over T = 7: partial last tiles for both queries and keys; GQA with 2 query heads per kv head.
        var shape = new AttentionShape(2, 7, 4, 2, 4);
        int rows = shape.Batch * shape.SeqLen;
        int[] seg = segmented ? Segments(shape.Batch, shape.SeqLen) : [];
        var q = GradCheck.Random(rng, rows * shape.QDim, 1.5);
        var k = GradCheck.Random(rng, rows * shape.KvDim, 1.5);
        var v = GradCheck.Random(rng, rows * shape.KvDim);
        var dOut = GradCheck.Random(rng, rows * shape.QDim);
        var output = new double[rows * shape.QDim];
        var lse = new double[rows * shape.NumHeads];
        var probs = new double[shape.Batch * shape.NumHeads * shape.SeqLen * shape.SeqLen];
        double Loss()
        {
            if (flash) FlashAttention.Forward<double>(output, lse, q, k, v, shape, seg, 3);
            else NaiveAttention.Forward<double>(output, probs, q, k, v, shape, seg);
            return GradCheck.Dot(output, dOut);
        }
        Loss();
        var dq = new double[q.Length]; var dk = new double[k.Length]; var dv = new double[v.Length];
        if (flash) FlashAttention.Backward<double>(dq, dk, dv, dOut, q, k, v, output, lse, shape, seg, 3);
        else NaiveAttention.Backward<double>(dq, dk, dv, dOut, q, k, v, probs, shape, seg);
        string name = (flash ? "flash" : "naive") + (segmented ? " segmented" : "");
        GradCheck.Check(name + " dQ", q, dq, Loss);
        GradCheck.Check(name + " dK", k, dk, Loss);
        GradCheck.Check(name + " dV", v, dv, Loss);
    }
}
