using System.Numerics;
using Elongate.Kernels;

namespace Elongate.Tests.Training;

/// <summary>
/// RoPE applied inside the attention kernels (<see cref="AttentionRope{T}"/>) against the separate passes it replaces:
/// <see cref="RopeRotation.Forward{T}"/> on q and k, attention, <see cref="RopeRotation.Backward{T}"/> on dq and dk.
/// Both compute the same map; only the rounding order differs (the fused backward rotates each tile's contribution
/// back before summing), so fp32 agrees to ~1e-7 relative (bound 1e-5, as the other attention tests) and fp64 to
/// ~1e-15 (bound 1e-12). float runs the register-tiled kernels on AVX2/AVX-512 hosts, double the row-by-row ones.
/// </summary>
public class AttentionRopeTests
{
    [Theory]
    [InlineData(70, 16, 4, 2, 16, false, false, false)] // GQA, whole head rotated
    [InlineData(70, 16, 4, 4, 12, true, false, false)]  // MHA, partial rotary dimension, xPos scales
    [InlineData(129, 32, 4, 1, 8, true, true, false)]   // multi-query, packed segments
    [InlineData(203, 64, 4, 2, 64, true, true, true)]   // training head size 64, padding
    [InlineData(203, 48, 2, 1, 36, false, false, true)] // rotary dimension not a multiple of 8: vector and scalar pairs
    public void Fused_rope_matches_separate_passes_float(int seqLen, int tile, int heads, int kvHeads, int rotaryDim, bool xpos, bool segmented, bool padded)
    {
        int headDim = rotaryDim > 16 ? 64 : 16;
        var (err, errDq, errDk, errDv) = Compare<float>(seqLen, tile, heads, kvHeads, headDim, rotaryDim, xpos, segmented, padded);
        Assert.True(err <= 1e-5, $"output {err:E2}");
        Assert.True(errDq <= 1e-5, $"dQ {errDq:E2}");
        Assert.True(errDk <= 1e-5, $"dK {errDk:E2}");
        Assert.True(errDv <= 1e-5, $"dV {errDv:E2}");
    }

    [Theory]
    [InlineData(33, 8, 4, 2, 16, false, false)]
    [InlineData(47, 16, 4, 4, 12, true, true)]
    [InlineData(70, 16, 2, 1, 6, true, false)]
    public void Fused_rope_matches_separate_passes_double(int seqLen, int tile, int heads, int kvHeads, int rotaryDim, bool xpos, bool segmented)
    {
        var (err, errDq, errDk, errDv) = Compare<double>(seqLen, tile, heads, kvHeads, 16, rotaryDim, xpos, segmented, padded: segmented);
        Assert.True(err <= 1e-12, $"output {err:E2}");
        Assert.True(errDq <= 1e-12, $"dQ {errDq:E2}");
        Assert.True(errDk <= 1e-12, $"dK {errDk:E2}");
        Assert.True(errDv <= 1e-12, $"dV {errDv:E2}");
    }

    /// <summary>The vector rotation (four pairs at a time) gives the bits of the pair-by-pair formula, forward and backward.</summary>
    [Fact]
    public void Vector_rotation_is_bit_identical_to_the_pair_formula()
    {
        var rng = new Random(5);
        int seqLen = 9, heads = 3, headDim = 40, rotaryDim = 38, pairs = rotaryDim / 2, rows = 2 * seqLen;
        var angles = GradCheck.Random(rng, seqLen * pairs, 4);
        var cos = angles.Select(a => (float)Math.Cos(a)).ToArray();
        var sin = angles.Select(a => (float)Math.Sin(a)).ToArray();
        var scale = angles.Select(a => (float)(0.5 + Math.Abs(a) / 4)).ToArray();
        var x = GradCheck.RandomFloat(rng, rows * heads * headDim);
        foreach (bool backward in new[] { false, true })
        {
            var y = (float[])x.Clone();
            if (backward) RopeRotation.Backward<float>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale);
            else RopeRotation.Forward<float>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale);
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < heads; h++)
                {
                    int at = (r * heads + h) * headDim, tb = r % seqLen * pairs;
                    for (int i = 0; i < pairs; i++)
                    {
                        float c = cos[tb + i] * scale[tb + i], s = sin[tb + i] * scale[tb + i];
                        if (backward) s = -s;
                        float a = x[at + 2 * i], b = x[at + 2 * i + 1];
                        Assert.Equal(a * c - b * s, y[at + 2 * i]);
                        Assert.Equal(a * s + b * c, y[at + 2 * i + 1]);
                    }
                    for (int j = rotaryDim; j < headDim; j++) Assert.Equal(x[at + j], y[at + j]);
                }
        }
    }

    /// <summary>
    /// Runs both ways on random inputs and returns the relative errors of output, dq, dk, dv. The gradient buffers
    /// start non-zero: the fused backward must add to them (dq += Rᵀ·dq_rot), as the kernels always do.
    /// </summary>
    private static (double, double, double, double) Compare<T>(int seqLen, int tile, int heads, int kvHeads, int headDim, int rotaryDim,
        bool xpos, bool segmented, bool padded) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(seqLen * 131 + tile * 7 + kvHeads + rotaryDim);
        var shape = new AttentionShape(Batch: 2, SeqLen: seqLen, NumHeads: heads, NumKvHeads: kvHeads, HeadDim: headDim);
        int rows = shape.Batch * seqLen, pairs = rotaryDim / 2;
        T[] R(int n, double s = 1) => GradCheck.Random(rng, n, s).Select(T.CreateChecked).ToArray();
        var q = R(rows * shape.QDim, 2); var k = R(rows * shape.KvDim, 2); var v = R(rows * shape.KvDim); var dOut = R(rows * shape.QDim);
        // Real RoPE angles p·θ_i (θ_i = 10000^(−2i/d)); xPos-like scales ζ for queries, 1/ζ for keys.
        var cos = new T[seqLen * pairs]; var sin = new T[cos.Length];
        T[] qs = xpos ? new T[cos.Length] : [], ks = xpos ? new T[cos.Length] : [];
        for (int p = 0; p < seqLen; p++)
            for (int i = 0; i < pairs; i++)
            {
                double angle = p * Math.Pow(10000, -2.0 * i / rotaryDim);
                cos[p * pairs + i] = T.CreateChecked(Math.Cos(angle));
                sin[p * pairs + i] = T.CreateChecked(Math.Sin(angle));
                if (!xpos) continue;
                double zeta = Math.Pow((2.0 * i + 0.4 * rotaryDim) / (1.4 * rotaryDim), (p - seqLen / 2.0) / 64);
                qs[p * pairs + i] = T.CreateChecked(zeta);
                ks[p * pairs + i] = T.CreateChecked(1 / zeta);
            }
        int[] seg = [];
        if (segmented || padded)
        {
            seg = new int[rows];
            for (int r = 0; r < rows; r++) seg[r] = segmented ? r % seqLen / 19 : 0;
            if (padded)
                for (int r = seqLen - 11; r < seqLen; r++)
                {
                    seg[r] = FlashAttention.PaddingSegment;
                    // Padding rows may hold anything: NaN must not leak through the rotation into real rows.
                    for (int j = 0; j < shape.QDim; j++) q[r * shape.QDim + j] = T.NaN;
                    for (int j = 0; j < shape.KvDim; j++) k[r * shape.KvDim + j] = T.NaN;
                }
        }

        // Separate passes.
        var qr = (T[])q.Clone(); var kr = (T[])k.Clone();
        RopeRotation.Forward<T>(qr, rows, seqLen, heads, headDim, rotaryDim, cos, sin, qs);
        RopeRotation.Forward<T>(kr, rows, seqLen, kvHeads, headDim, rotaryDim, cos, sin, ks);
        var o1 = new T[rows * shape.QDim]; var lse1 = new T[rows * heads];
        FlashAttention.Forward<T>(o1, lse1, qr, kr, v, shape, seg, tile);
        var dq1 = new T[q.Length]; var dk1 = new T[k.Length]; var dv1 = new T[v.Length];
        FlashAttention.Backward<T>(dq1, dk1, dv1, dOut, qr, kr, v, o1, lse1, shape, seg, tile);
        RopeRotation.Backward<T>(dq1, rows, seqLen, heads, headDim, rotaryDim, cos, sin, qs);
        RopeRotation.Backward<T>(dk1, rows, seqLen, kvHeads, headDim, rotaryDim, cos, sin, ks);

        // Fused, into gradient buffers that already hold something.
        var rope = new AttentionRope<T>(rotaryDim, cos, sin, qs, ks);
        var o2 = new T[o1.Length]; var lse2 = new T[lse1.Length];
        FlashAttention.Forward<T>(o2, lse2, q, k, v, shape, seg, tile, rope);
        var dq0 = R(q.Length); var dk0 = R(k.Length); var dv0 = R(v.Length);
        var dq2 = (T[])dq0.Clone(); var dk2 = (T[])dk0.Clone(); var dv2 = (T[])dv0.Clone();
        FlashAttention.Backward<T>(dq2, dk2, dv2, dOut, q, k, v, o2, lse2, shape, seg, tile, rope);
        for (int i = 0; i < dq2.Length; i++) dq2[i] -= dq0[i];
        for (int i = 0; i < dk2.Length; i++) dk2[i] -= dk0[i];
        for (int i = 0; i < dv2.Length; i++) dv2[i] -= dv0[i];
        return (Rel(o2, o1), Rel(dq2, dq1), Rel(dk2, dk1), Rel(dv2, dv1));
    }

    /// <summary>‖a − b‖ / ‖b‖ in double; NaN anywhere makes it NaN (and the test fail).</summary>
    private static double Rel<T>(T[] a, T[] b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        double num = 0, den = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double x = double.CreateChecked(a[i]), y = double.CreateChecked(b[i]);
            num += (x - y) * (x - y);
            den += y * y;
        }
        return Math.Sqrt(num / den);
    }
}
