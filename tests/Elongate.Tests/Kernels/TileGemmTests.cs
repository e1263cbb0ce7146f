using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// The causal shortcuts of <see cref="TileGemm"/> used by the tiled attention: skipping register tiles past the
/// diagonal, and cutting each row sliver's k range where its A rows are zero, must give the same bits as the plain
/// product (the skipped terms are exact zeros) on the entries that are kept.
/// </summary>
public unsafe class TileGemmTests
{
    private const int M = 50, N = 70, K = 45;

    private static float[] Random(int n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    /// <summary>C0 + A·B through <paramref name="product"/>, with A [M×K] and B [K×N] packed as the tiles pack them.</summary>
    private static float[] Run(float[] a, float[] b, float[] c0, Action<nint, nint, nint> product)
    {
        var c = (float[])c0.Clone();
        var ap = new float[TileGemm.ASize(M, K)];
        var bp = new float[TileGemm.BSize(K, N)];
        fixed (float* pa = a, pb = b, pap = ap, pbp = bp, pc = c)
        {
            TileGemm.PackA(pa, K, false, M, K, pap);
            TileGemm.PackB(pb, N, false, K, N, pbp);
            product((nint)pap, (nint)pbp, (nint)pc);
        }
        return c;
    }

    [Theory]
    [InlineData(-20)]
    [InlineData(-5)]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(100)]
    public void Cut_k_ranges_give_the_plain_products_bits(int offset)
    {
        var b = Random(K * N, 2);
        var c0 = Random(M * N, 3);
        // Lower: row i zero beyond column i + offset. Upper: row i zero before column i − offset.
        var lower = Random(M * K, 1);
        var upper = Random(M * K, 4);
        for (int i = 0; i < M; i++)
            for (int p = 0; p < K; p++)
            {
                if (p > i + offset) lower[i * K + p] = 0f;
                if (p < i - offset) upper[i * K + p] = 0f;
            }
        foreach (var (a, cut) in new[] { (lower, true), (upper, false) })
        {
            var plain = Run(a, b, c0, (ap, bp, c) => TileGemm.Multiply((float*)ap, (float*)bp, M, N, K, (float*)c, N, 1f, 1f));
            var shortcut = Run(a, b, c0, (ap, bp, c) =>
            {
                if (cut) TileGemm.MultiplyAddLowerA((float*)ap, (float*)bp, M, N, K, (float*)c, N, offset);
                else TileGemm.MultiplyAddUpperA((float*)ap, (float*)bp, M, N, K, (float*)c, N, offset);
            });
            Assert.Equal(plain, shortcut);
        }
    }

    [Theory]
    [InlineData(-40)]
    [InlineData(0)]
    [InlineData(13)]
    public void Masked_tiles_leave_every_kept_entry_exact(int offset)
    {
        var a = Random(M * K, 5);
        var b = Random(K * N, 6);
        var c0 = new float[M * N];
        var plain = Run(a, b, c0, (ap, bp, c) => TileGemm.Multiply((float*)ap, (float*)bp, M, N, K, (float*)c, N, 0.5f, 0f));
        var masked = Run(a, b, c0, (ap, bp, c) => TileGemm.MultiplyMaskedBelow((float*)ap, (float*)bp, M, N, K, (float*)c, N, 0.5f, 0f, offset));
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                if (i - j <= offset) Assert.Equal(plain[i * N + j], masked[i * N + j]);
    }
}
