using System.Runtime.Intrinsics;

namespace Elongate.Kernels;

/// <summary>
/// On-the-fly 8-bit quantization of activation rows for the integer dot products of <see cref="QuantMatMul"/>, as
/// llama.cpp does: the weights stay in their quantized blocks and are multiplied with int8 activations, so the inner
/// loop is an int8 multiply-add. Two layouts, both symmetric (q = round(x/d), d = max|x|/127, so q ∈ [−127, 127]):
/// <list type="bullet">
/// <item>32-element blocks (Q8_0-like, fp32 scale) for the legacy quants, plus the block sum Σq, which folds the
/// weights' offset (Q4_0's −8, Q5_0's −16) and min (Q4_1, Q5_1) into one integer per block;</item>
/// <item>256-element super-blocks (Q8_K-like, fp32 scale) for the k-quants, plus 16-element sums Σq as int16,
/// for the k-quants' per-sub-block mins and Q6_K's −32 offset.</item>
/// </list>
/// Rounding is to nearest, ties to even, identically in the vector and scalar code, so every kernel path sees the same
/// int8 activations.
/// </summary>
internal static unsafe class ActivationQuantizer
{
    /// <summary>Quantizes <paramref name="n"/> (a multiple of 32) values into 32-blocks: q[n], d[n/32], sums[n/32].</summary>
    public static void Blocks32(float* x, int n, sbyte* q, float* d, int* sums)
    {
        for (int b = 0; b < n / 32; b++)
        {
            float* xb = x + 32 * b;
            float amax = MaxAbs(xb, 32);
            float scale = amax / 127f, inv = amax != 0f ? 127f / amax : 0f;
            d[b] = scale;
            sums[b] = Round(xb, 32, inv, q + 32 * b);
        }
    }

    /// <summary>Quantizes <paramref name="n"/> (a multiple of 256) values into super-blocks: q[n], d[n/256], sums16[n/16].</summary>
    public static void Blocks256(float* x, int n, sbyte* q, float* d, short* sums16)
    {
        for (int b = 0; b < n / 256; b++)
        {
            float* xb = x + 256 * b;
            float amax = MaxAbs(xb, 256);
            float scale = amax / 127f, inv = amax != 0f ? 127f / amax : 0f;
            d[b] = scale;
            for (int g = 0; g < 16; g++) sums16[16 * b + g] = (short)Round(xb + 16 * g, 16, inv, q + 256 * b + 16 * g);
        }
    }

    private static float MaxAbs(float* x, int n)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            var m = Vector256<float>.Zero;
            for (int i = 0; i < n; i += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + i)));
            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            return MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
        }
        float a = 0f;
        for (int i = 0; i < n; i++) a = MathF.Max(a, MathF.Abs(x[i]));
        return a;
    }

    /// <summary>q[i] = round-half-even(x[i]·inv) for n (a multiple of 16) values; returns Σq.</summary>
    private static int Round(float* x, int n, float inv, sbyte* q)
    {
        int sum = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var vi = Vector256.Create(inv);
            var acc = Vector256<int>.Zero;
            for (int i = 0; i < n; i += 16)
            {
                var a = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i) * vi));
                var b = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + i + 8) * vi));
                acc += a + b;
                var s = Vector256.Narrow(a, b); // 16 shorts, in order
                Vector128.Narrow(s.GetLower(), s.GetUpper()).Store(q + i);
            }
            return Vector256.Sum(acc);
        }
        for (int i = 0; i < n; i++)
        {
            int v = (int)MathF.Round(x[i] * inv, MidpointRounding.ToEven);
            q[i] = (sbyte)v;
            sum += v;
        }
        return sum;
    }
}
