using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>Writes the valid part of a register tile that was spilled to memory (edge tiles and the scalar kernel).</summary>
internal static class GemmTile
{
    public static unsafe void MergeScalar(float* t, int ldt, float* c, nint ldc, int m, int n, float alpha, float beta)
    {
        for (int r = 0; r < m; r++)
        {
            float* tr = t + r * ldt;
            float* cr = c + r * ldc;
            if (beta == 0f)
                for (int j = 0; j < n; j++) cr[j] = alpha * tr[j];
            else if (beta == 1f)
                for (int j = 0; j < n; j++) cr[j] = MathF.FusedMultiplyAdd(alpha, tr[j], cr[j]);
            else
                for (int j = 0; j < n; j++) cr[j] = MathF.FusedMultiplyAdd(alpha, tr[j], beta * cr[j]);
        }
    }

    /// <summary>
    /// <see cref="MergeScalar"/> with whole rows in vectors when the tile is full (<paramref name="m"/> = <paramref name="mr"/>,
    /// <paramref name="n"/> = <paramref name="nr"/>, a multiple of the vector width) — the same fused α·t + β·C per element.
    /// </summary>
    public static unsafe void Merge(float* t, int ldt, float* c, nint ldc, int m, int n, int mr, int nr, float alpha, float beta)
    {
        if (m != mr || n != nr || nr % Vector256<float>.Count != 0 || !Vector256.IsHardwareAccelerated)
        {
            MergeScalar(t, ldt, c, ldc, m, n, alpha, beta);
            return;
        }
        var va = Vector256.Create(alpha);
        var vb = Vector256.Create(beta);
        for (int r = 0; r < m; r++)
        {
            float* tr = t + r * ldt;
            float* cr = c + r * ldc;
            for (int j = 0; j < n; j += Vector256<float>.Count)
            {
                var x = Vector256.Load(tr + j);
                var y = beta == 0f ? va * x
                    : beta == 1f ? Vector256.FusedMultiplyAdd(va, x, Vector256.Load(cr + j))
                    : Vector256.FusedMultiplyAdd(va, x, vb * Vector256.Load(cr + j));
                y.Store(cr + j);
            }
        }
    }
}
