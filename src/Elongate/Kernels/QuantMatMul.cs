using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>Interim reference: y = x·Wᵀ with each weight row dequantized on the fly.</summary>
public static unsafe class QuantMatMul
{
    public static bool Supports(GgmlType type) => type != GgmlType.Q8_K;

    public static void Forward(float* y, float* x, int rows, byte* w, GgmlType type, int outDim, int inDim, WorkerPool pool)
    {
        long rb = GgmlTypes.ByteCount(type, inDim);
        nint yp = (nint)y, xp = (nint)x, wp = (nint)w;
        Parallel.For(0, outDim, new ParallelOptions { MaxDegreeOfParallelism = pool.Threads }, () => new float[inDim], (o, _, row) =>
        {
            GgmlQuants.Dequantize(type, new ReadOnlySpan<byte>((byte*)wp + o * rb, (int)rb), row);
            for (int t = 0; t < rows; t++)
            {
                float* xr = (float*)xp + (long)t * inDim;
                float s = 0;
                for (int i = 0; i < inDim; i++) s += row[i] * xr[i];
                ((float*)yp)[(long)t * outDim + o] = s;
            }
            return row;
        }, _ => { });
    }
}
