using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// In-register 16×16 float transpose (AVX-512): the packers use it to turn K-contiguous rows (A in NN/NT, B in NT)
/// into the K-major slivers the micro-kernel streams, at ~4 shuffles per 16 elements instead of one scalar move each.
/// </summary>
internal static class GemmTranspose16
{
    /// <summary>o[c] lane r = r[r] lane c.</summary>
    public static unsafe void Run(Vector512<float>* r, Vector512<float>* o)
    {
        Vector512<float>* t = stackalloc Vector512<float>[16];
        for (int i = 0; i < 16; i += 2)
        {
            // Per 128-bit lane L: t[i] = (r_i[4L], r_i+1[4L], r_i[4L+1], r_i+1[4L+1]), t[i+1] the same for 4L+2, 4L+3.
            t[i] = Avx512F.UnpackLow(r[i], r[i + 1]);
            t[i + 1] = Avx512F.UnpackHigh(r[i], r[i + 1]);
        }
        Vector512<float>* u = stackalloc Vector512<float>[16];
        for (int g = 0; g < 16; g += 4)
        {
            // u[g + q] lane L = rows g..g+3 of column 4L + q.
            u[g] = Avx512F.UnpackLow(t[g].AsDouble(), t[g + 2].AsDouble()).AsSingle();
            u[g + 1] = Avx512F.UnpackHigh(t[g].AsDouble(), t[g + 2].AsDouble()).AsSingle();
            u[g + 2] = Avx512F.UnpackLow(t[g + 1].AsDouble(), t[g + 3].AsDouble()).AsSingle();
            u[g + 3] = Avx512F.UnpackHigh(t[g + 1].AsDouble(), t[g + 3].AsDouble()).AsSingle();
        }
        for (int q = 0; q < 4; q++)
        {
            // Gather 128-bit lane L of the four row groups into column 4L + q.
            var x0 = Avx512F.Shuffle4x128(u[q], u[4 + q], 0x44);
            var x1 = Avx512F.Shuffle4x128(u[q], u[4 + q], 0xEE);
            var y0 = Avx512F.Shuffle4x128(u[8 + q], u[12 + q], 0x44);
            var y1 = Avx512F.Shuffle4x128(u[8 + q], u[12 + q], 0xEE);
            o[q] = Avx512F.Shuffle4x128(x0, y0, 0x88);
            o[4 + q] = Avx512F.Shuffle4x128(x0, y0, 0xDD);
            o[8 + q] = Avx512F.Shuffle4x128(x1, y1, 0x88);
            o[12 + q] = Avx512F.Shuffle4x128(x1, y1, 0xDD);
        }
    }
}
