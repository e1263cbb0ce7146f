using Elongate.Data;
using Elongate.Kernels;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// Padding costs nothing and changes nothing: FlashAttention skips padding rows (segment −1) in the forward and the
/// backward and no row sees them, so a right-padded example gives the unpadded example's loss and gradients; packed
/// examples do not see each other.
/// </summary>
public class FineTunePaddingTests
{
    private static LlamaConfig Tiny(bool tied = false) => new()
    {
        HiddenSize = 8, IntermediateSize = 12, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = 11, MaxPositionEmbeddings = 16, TieWordEmbeddings = tied,
    };

    private static LlamaTrainingModel<T> Model<T>(int seqLen, int seed = 21) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var m = new LlamaTrainingModel<T>(Tiny(), 1, seqLen) { AttentionTileSize = 2 };
        m.InitializeRandom(seed, std: 0.5);
        return m;
    }

    [Fact]
    public void Padding_rows_are_skipped_by_flash_attention_forward_and_backward()
    {
        // NaN in every padding row's q, k, v and output gradient: any work done on them would spread NaN.
        var shape = new AttentionShape(Batch: 2, SeqLen: 11, NumHeads: 2, NumKvHeads: 1, HeadDim: 4);
        int rows = shape.Batch * shape.SeqLen;
        var rng = new Random(3);
        var q = GradCheck.RandomFloat(rng, rows * shape.QDim, 2);
        var k = GradCheck.RandomFloat(rng, rows * shape.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, rows * shape.KvDim);
        var dOut = GradCheck.RandomFloat(rng, rows * shape.QDim);
        // Row 0: an example of 7 tokens then 4 of padding; row 1: two packed examples then 2 of padding.
        int[] seg = [0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1, 1, -1, -1];
        for (int r = 0; r < rows; r++)
        {
            if (seg[r] != FlashAttention.PaddingSegment) continue;
            q.AsSpan(r * shape.QDim, shape.QDim).Fill(float.NaN);
            k.AsSpan(r * shape.KvDim, shape.KvDim).Fill(float.NaN);
            v.AsSpan(r * shape.KvDim, shape.KvDim).Fill(float.NaN);
            dOut.AsSpan(r * shape.QDim, shape.QDim).Fill(float.NaN);
        }
        foreach (int tile in new[] { 2, 3, 64 })
        {
            var o = new float[rows * shape.QDim];
            var lse = new float[rows * shape.NumHeads];
            FlashAttention.Forward<float>(o, lse, q, k, v, shape, seg, tile);
            var dq = new float[q.Length];
            var dk = new float[k.Length];
            var dv = new float[v.Length];
            FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape, seg, tile);
            for (int r = 0; r < rows; r++)
            {
                bool pad = seg[r] == FlashAttention.PaddingSegment;
                var oRow = o.AsSpan(r * shape.QDim, shape.QDim);
                var dqRow = dq.AsSpan(r * shape.QDim, shape.QDim);
                var dkRow = dk.AsSpan(r * shape.KvDim, shape.KvDim);
                if (pad)
                {
                    Assert.All(oRow.ToArray(), x => Assert.Equal(0f, x));
                    Assert.All(dqRow.ToArray(), x => Assert.Equal(0f, x));
                    Assert.All(dkRow.ToArray(), x => Assert.Equal(0f, x));
                }
                else
                {
                    Assert.All(oRow.ToArray(), x => Assert.True(float.IsFinite(x)));
                    Assert.All(dqRow.ToArray(), x => Assert.True(float.IsFinite(x)));
                    Assert.All(dkRow.ToArray(), x => Assert.True(float.IsFinite(x)));
                }
            }
        }
    }

    [Fact]
    public void Non_padding_rows_equal_the_unpadded_run_bit_for_bit_in_the_kernel()
    {
        // The same 5 tokens alone (T = 5) and followed by 3 padding tokens (T = 8): same tiles, same order of work.
        var rng = new Random(8);
        var shape5 = new AttentionShape(1, 5, 2, 1, 4);
        var shape8 = new AttentionShape(1, 8, 2, 1, 4);
        float[] Pad(float[] a, int width) { var p = new float[8 * width]; a.CopyTo(p, 0); return p; }
        var q = GradCheck.RandomFloat(rng, 5 * shape5.QDim, 2);
        var k = GradCheck.RandomFloat(rng, 5 * shape5.KvDim, 2);
        var v = GradCheck.RandomFloat(rng, 5 * shape5.KvDim);
        var d = GradCheck.RandomFloat(rng, 5 * shape5.QDim);
        int[] seg5 = [0, 0, 0, 0, 0], seg8 = [0, 0, 0, 0, 0, -1, -1, -1];
        var (o5, dq5, dk5, dv5) = Run(shape5, q, k, v, d, seg5);
        var (o8, dq8, dk8, dv8) = Run(shape8, Pad(q, shape5.QDim), Pad(k, shape5.KvDim), Pad(v, shape5.KvDim), Pad(d, shape5.QDim), seg8);
        Assert.Equal(o5, o8.AsSpan(0, o5.Length).ToArray());
        Assert.Equal(dq5, dq8.AsSpan(0, dq5.Length).ToArray());
        Assert.Equal(dk5, dk8.AsSpan(0, dk5.Length).ToArray());
        Assert.Equal(dv5, dv8.AsSpan(0, dv5.Length).ToArray());

        static (float[], float[], float[], float[]) Run(AttentionShape s, float[] q, float[] k, float[] v, float[] d, int[] seg)
        {
            var o = new float[q.Length];
            var lse = new float[s.SeqLen * s.NumHeads];
            FlashAttention.Forward<float>(o, lse, q, k, v, s, seg, 2);
            var dq = new float[q.Length];
            var dk = new float[k.Length];
            var dv = new float[v.Length];
            FlashAttention.Backward<float>(dq, dk, dv, d, q, k, v, o, lse, s, seg, 2);
            return (o, dq, dk, dv);
        }
    }

    /// <summary>
    /// Whole model, double: an example of 5 tokens right-padded to 8 gives the loss and every gradient of the same
    /// example at T = 5. Tolerance 1e-12 relative: the only differences are the GEMMs' row blocking (padding rows
    /// pass through the projections, whose outputs no real row reads), i.e. rounding at double precision.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Padded_example_gives_the_unpadded_loss_and_gradients(bool lora)
    {
        var unpadded = Model<double>(5);
        var padded = Model<double>(8);
        if (lora)
        {
            foreach (var m in new[] { unpadded, padded })
            {
                m.AddLora(new LoraSettings(2, 4, LoraTargets.All), seed: 5);
                var rng = new Random(9);
                for (int i = 0; i < m.LoraParameters.Length; i++) m.LoraParameters[i] = rng.NextDouble() - 0.5;
            }
        }
        int[] x = [1, 4, 2, 9, 3], y = [4, 2, FineTuneSequence.IgnoreIndex, 3, 7];
        int[] xPad = [.. x, 0, 0, 0], yPad = [.. y, -100, -100, -100], segPad = [0, 0, 0, 0, 0, -1, -1, -1];
        double l5 = unpadded.Forward(x, y, [0, 0, 0, 0, 0]);
        unpadded.Backward();
        double l8 = padded.Forward(xPad, yPad, segPad);
        padded.Backward();
        Assert.Equal(l5, l8, 1e-12);
        var g5 = lora ? unpadded.LoraGradients : unpadded.Gradients;
        var g8 = lora ? padded.LoraGradients : padded.Gradients;
        Assert.Equal(g5.Length, g8.Length);
        double scale = g5.Max(Math.Abs);
        Assert.True(scale > 1e-3);
        for (int i = 0; i < g5.Length; i++) Assert.True(Math.Abs(g5[i] - g8[i]) <= 1e-12 * scale, $"gradient {i}: {g5[i]} vs {g8[i]}");
    }

    /// <summary>The same in float: equal to 1e-6 relative (fp32 GEMM blocking over 5 vs 8 rows).</summary>
    [Fact]
    public void Padded_example_gives_the_unpadded_loss_in_float()
    {
        var unpadded = Model<float>(5);
        var padded = Model<float>(8);
        int[] x = [1, 4, 2, 9, 3], y = [4, 2, 5, 3, 7];
        float l5 = unpadded.Forward(x, y, [0, 0, 0, 0, 0]);
        unpadded.Backward();
        float l8 = padded.Forward([.. x, 0, 0, 0], [.. y, -100, -100, -100], [0, 0, 0, 0, 0, -1, -1, -1]);
        padded.Backward();
        Assert.Equal(l5, l8, 1e-6f);
        Assert.True(GradCheck.RelativeError(padded.Gradients, unpadded.Gradients) < 1e-6);
    }

    /// <summary>
    /// Two examples packed into one row with their own segment ids: the second example's logits equal those of the
    /// example run alone. RoPE makes scores depend on relative positions only, but its cos/sin tables are computed
    /// in float (as inference's), so positions p and p + 5 carry different float rounding: equal to 1e-6 relative.
    /// </summary>
    [Fact]
    public void Packed_examples_do_not_see_each_other()
    {
        var packed = Model<double>(9);
        var alone = Model<double>(4);
        int[] a = [3, 1, 4, 1, 5], b = [9, 2, 6, 5];
        int[] x = [.. a, .. b], y = Enumerable.Repeat(1, 9).ToArray();
        packed.Forward(x, y, [0, 0, 0, 0, 0, 1, 1, 1, 1]);
        var logitsPacked = packed.Logits.ToArray();
        alone.Forward(b, [1, 1, 1, 1], [0, 0, 0, 0]);
        var logitsAlone = alone.Logits.ToArray();
        int vocab = Tiny().VocabSize;
        for (int t = 0; t < b.Length; t++)
            for (int i = 0; i < vocab; i++)
                Assert.True(Math.Abs(logitsAlone[t * vocab + i] - logitsPacked[(a.Length + t) * vocab + i]) <= 1e-6 * Math.Max(1, Math.Abs(logitsAlone[t * vocab + i])),
                    $"token {t}, logit {i}: alone {logitsAlone[t * vocab + i]}, packed {logitsPacked[(a.Length + t) * vocab + i]}");
        // Without segments the second example does see the first.
        packed.Forward(x, y);
        Assert.True(Math.Abs(packed.Logits[(a.Length + 1) * vocab] - logitsAlone[vocab]) > 1e-3);
    }
}
