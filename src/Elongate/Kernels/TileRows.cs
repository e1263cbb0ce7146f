using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// Element-wise passes over a dense tile [rows × cols] against one vector of cols (one lane per column): what the
/// transposed score tiles of <see cref="FlashAttentionTiled"/> need per key row, in one call per tile rather than one
/// library call per row. Max, subtraction and addition are exact in IEEE arithmetic and each column is processed in row
/// order, so every result is the same whichever lanes (zmm, ymm or scalar tail) compute it.
/// </summary>
internal static unsafe class TileRows
{
    /// <summary>v[c] = max(v[c], tile[p, c]) over all rows p.</summary>
    public static void MaxInto(float* tile, int rows, int cols, float* v)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; c + 16 <= cols; c += 16)
            {
                var m = Vector512.Load(v + c);
                for (int p = 0; p < rows; p++) m = Vector512.Max(m, Vector512.Load(tile + p * cols + c));
                m.Store(v + c);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; c + 8 <= cols; c += 8)
            {
                var m = Vector256.Load(v + c);
                for (int p = 0; p < rows; p++) m = Vector256.Max(m, Vector256.Load(tile + p * cols + c));
                m.Store(v + c);
            }
        for (; c < cols; c++)
        {
            float m = v[c];
            for (int p = 0; p < rows; p++) m = MathF.Max(m, tile[p * cols + c]);
            v[c] = m;
        }
    }

    /// <summary>v[c] += tile[p, c] for p = 0, 1, … in order.</summary>
    public static void SumInto(float* tile, int rows, int cols, float* v)
    {
        int c = 0;
        if (Vector512.IsHardwareAccelerated)
            for (; c + 16 <= cols; c += 16)
            {
                var s = Vector512.Load(v + c);
                for (int p = 0; p < rows; p++) s += Vector512.Load(tile + p * cols + c);
                s.Store(v + c);
            }
        if (Vector256.IsHardwareAccelerated)
            for (; c + 8 <= cols; c += 8)
            {
                var s = Vector256.Load(v + c);
                for (int p = 0; p < rows; p++) s += Vector256.Load(tile + p * cols + c);
                s.Store(v + c);
            }
        for (; c < cols; c++)
        {
            float s = v[c];
            for (int p = 0; p < rows; p++) s += tile[p * cols + c];
            v[c] = s;
        }
    }

    /// <summary>tile[p, c] −= v[c] for every row p.</summary>
    public static void SubtractFrom(float* tile, int rows, int cols, float* v)
    {
        for (int p = 0; p < rows; p++)
        {
            float* row = tile + p * cols;
            int c = 0;
            if (Vector512.IsHardwareAccelerated)
                for (; c + 16 <= cols; c += 16) (Vector512.Load(row + c) - Vector512.Load(v + c)).Store(row + c);
            if (Vector256.IsHardwareAccelerated)
                for (; c + 8 <= cols; c += 8) (Vector256.Load(row + c) - Vector256.Load(v + c)).Store(row + c);
            for (; c < cols; c++) row[c] -= v[c];
        }
    }
}
