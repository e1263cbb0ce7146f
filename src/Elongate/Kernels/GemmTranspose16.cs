using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// In-register 16×16 float transpose (AVX-512): the packers use it to turn K-contiguous rows (A in NN/NT, B in NT)
/// into the K-major slivers the micro-kernel streams, at 4 shuffles per 16 elements instead of one scalar move each.
/// The sixteen rows live in locals from load to store (no stack round trips between the shuffle stages); the packs it
/// serves are bound by their strided loads, not by these shuffles.
/// </summary>
internal static class GemmTranspose16
{
    /// <summary>
    /// Reads <paramref name="rows"/> (12 or 16) rows of 16 floats at <paramref name="src"/> + i·<paramref name="ld"/>
    /// (missing rows count as zeros) and writes column c, <paramref name="rows"/> floats, at <paramref name="dst"/> +
    /// c·<paramref name="dstStride"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Block(float* src, nint ld, int rows, float* dst, nint dstStride)
    {
        var r0 = Vector512.Load(src + 0 * ld);
        var r1 = Vector512.Load(src + 1 * ld);
        var r2 = Vector512.Load(src + 2 * ld);
        var r3 = Vector512.Load(src + 3 * ld);
        var r4 = Vector512.Load(src + 4 * ld);
        var r5 = Vector512.Load(src + 5 * ld);
        var r6 = Vector512.Load(src + 6 * ld);
        var r7 = Vector512.Load(src + 7 * ld);
        var r8 = Vector512.Load(src + 8 * ld);
        var r9 = Vector512.Load(src + 9 * ld);
        var r10 = Vector512.Load(src + 10 * ld);
        var r11 = Vector512.Load(src + 11 * ld);
        Vector512<float> r12 = default, r13 = default, r14 = default, r15 = default;
        if (rows == 16)
        {
            r12 = Vector512.Load(src + 12 * ld);
            r13 = Vector512.Load(src + 13 * ld);
            r14 = Vector512.Load(src + 14 * ld);
            r15 = Vector512.Load(src + 15 * ld);
        }
        // Per 128-bit lane L: t[i] = (r_i[4L], r_i+1[4L], r_i[4L+1], r_i+1[4L+1]), t[i+1] the same for 4L+2, 4L+3.
        var t0 = Avx512F.UnpackLow(r0, r1).AsDouble();
        var t1 = Avx512F.UnpackHigh(r0, r1).AsDouble();
        var t2 = Avx512F.UnpackLow(r2, r3).AsDouble();
        var t3 = Avx512F.UnpackHigh(r2, r3).AsDouble();
        var t4 = Avx512F.UnpackLow(r4, r5).AsDouble();
        var t5 = Avx512F.UnpackHigh(r4, r5).AsDouble();
        var t6 = Avx512F.UnpackLow(r6, r7).AsDouble();
        var t7 = Avx512F.UnpackHigh(r6, r7).AsDouble();
        var t8 = Avx512F.UnpackLow(r8, r9).AsDouble();
        var t9 = Avx512F.UnpackHigh(r8, r9).AsDouble();
        var t10 = Avx512F.UnpackLow(r10, r11).AsDouble();
        var t11 = Avx512F.UnpackHigh(r10, r11).AsDouble();
        var t12 = Avx512F.UnpackLow(r12, r13).AsDouble();
        var t13 = Avx512F.UnpackHigh(r12, r13).AsDouble();
        var t14 = Avx512F.UnpackLow(r14, r15).AsDouble();
        var t15 = Avx512F.UnpackHigh(r14, r15).AsDouble();
        // u[g + q] lane L = rows g..g+3 of column 4L + q.
        var u0 = Avx512F.UnpackLow(t0, t2).AsSingle();
        var u1 = Avx512F.UnpackHigh(t0, t2).AsSingle();
        var u2 = Avx512F.UnpackLow(t1, t3).AsSingle();
        var u3 = Avx512F.UnpackHigh(t1, t3).AsSingle();
        var u4 = Avx512F.UnpackLow(t4, t6).AsSingle();
        var u5 = Avx512F.UnpackHigh(t4, t6).AsSingle();
        var u6 = Avx512F.UnpackLow(t5, t7).AsSingle();
        var u7 = Avx512F.UnpackHigh(t5, t7).AsSingle();
        var u8 = Avx512F.UnpackLow(t8, t10).AsSingle();
        var u9 = Avx512F.UnpackHigh(t8, t10).AsSingle();
        var u10 = Avx512F.UnpackLow(t9, t11).AsSingle();
        var u11 = Avx512F.UnpackHigh(t9, t11).AsSingle();
        var u12 = Avx512F.UnpackLow(t12, t14).AsSingle();
        var u13 = Avx512F.UnpackHigh(t12, t14).AsSingle();
        var u14 = Avx512F.UnpackLow(t13, t15).AsSingle();
        var u15 = Avx512F.UnpackHigh(t13, t15).AsSingle();
        // Gather 128-bit lane L of the four row groups into column 4L + q.
        Store(Avx512F.Shuffle4x128(u0, u4, 0x44), Avx512F.Shuffle4x128(u0, u4, 0xEE),
            Avx512F.Shuffle4x128(u8, u12, 0x44), Avx512F.Shuffle4x128(u8, u12, 0xEE), rows, dst + 0 * dstStride, 4 * dstStride);
        Store(Avx512F.Shuffle4x128(u1, u5, 0x44), Avx512F.Shuffle4x128(u1, u5, 0xEE),
            Avx512F.Shuffle4x128(u9, u13, 0x44), Avx512F.Shuffle4x128(u9, u13, 0xEE), rows, dst + 1 * dstStride, 4 * dstStride);
        Store(Avx512F.Shuffle4x128(u2, u6, 0x44), Avx512F.Shuffle4x128(u2, u6, 0xEE),
            Avx512F.Shuffle4x128(u10, u14, 0x44), Avx512F.Shuffle4x128(u10, u14, 0xEE), rows, dst + 2 * dstStride, 4 * dstStride);
        Store(Avx512F.Shuffle4x128(u3, u7, 0x44), Avx512F.Shuffle4x128(u3, u7, 0xEE),
            Avx512F.Shuffle4x128(u11, u15, 0x44), Avx512F.Shuffle4x128(u11, u15, 0xEE), rows, dst + 3 * dstStride, 4 * dstStride);
    }

    /// <summary>Columns q, 4 + q, 8 + q, 12 + q from the lane-gathered halves x0/x1 (row groups 0–1) and y0/y1 (2–3).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Store(Vector512<float> x0, Vector512<float> x1, Vector512<float> y0, Vector512<float> y1, int rows, float* d, nint step)
    {
        Put(Avx512F.Shuffle4x128(x0, y0, 0x88), rows, d);
        Put(Avx512F.Shuffle4x128(x0, y0, 0xDD), rows, d + step);
        Put(Avx512F.Shuffle4x128(x1, y1, 0x88), rows, d + 2 * step);
        Put(Avx512F.Shuffle4x128(x1, y1, 0xDD), rows, d + 3 * step);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Put(Vector512<float> v, int rows, float* d)
    {
        if (rows == 16) v.Store(d);
        else
        {
            v.GetLower().Store(d);
            v.GetUpper().GetLower().Store(d + 8);
        }
    }
}
