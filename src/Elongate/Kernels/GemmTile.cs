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
}
