using System.Buffers.Binary;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// The vector dequantizers (<see cref="DequantizeRows"/>, every path this CPU runs) against the scalar reference formulas
/// of <see cref="GgmlQuants"/> (themselves checked against llama.cpp in the format tests): bit for bit, on random codes
/// with random-sign scales and mins, some of them zero (so signed zeros must come out the same too).
/// </summary>
public class DequantizeRowsTests
{
    private static readonly GgmlType[] Types =
    [
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
        GgmlType.BF16, GgmlType.F16, GgmlType.F32,
    ];

    public static IEnumerable<object[]> Cases() =>
        from t in Types
        from isa in new[] { GemmIsa.Avx512, GemmIsa.Avx2 }
        where DequantizeRows.IsSupported(isa)
        select new object[] { t, isa };

    private static byte[] RandomBlocks(GgmlType type, int elements, int seed)
    {
        var rng = new Random(seed);
        var w = new byte[GgmlTypes.ByteCount(type, elements)];
        rng.NextBytes(w);
        int ts = GgmlTypes.TypeSize(type);
        Half Value() => rng.Next(8) == 0 ? (Half)0f : (Half)((rng.NextDouble() * 1.5 + 0.01) * (rng.Next(2) * 2 - 1));
        switch (type)
        {
            case GgmlType.F16:
                for (int i = 0; i < elements; i++) BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(2 * i), Value());
                return w;
            case GgmlType.F32:
                for (int i = 0; i < elements; i++) BinaryPrimitives.WriteSingleLittleEndian(w.AsSpan(4 * i), (float)Value());
                return w;
            case GgmlType.BF16:
                return w; // every bit pattern converts exactly (NaNs keep their payload in a shift)
        }
        for (int b = 0; b < w.Length / ts; b++)
        {
            int o = b * ts;
            switch (type)
            {
                case GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0:
                    BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(o), Value());
                    break;
                case GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K:
                    BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(o), Value());
                    BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(o + 2), Value());
                    break;
                case GgmlType.Q6_K:
                    BinaryPrimitives.WriteHalfLittleEndian(w.AsSpan(o + 208), Value());
                    break;
            }
        }
        return w;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BitIdenticalToScalarReference(GgmlType type, GemmIsa isa)
    {
        // 37 blocks of 256 (or 296 of 32): not a multiple of any vector width; BF16/F16 get an odd tail too.
        int elements = GgmlTypes.BlockSize(type) == 1 ? 9472 + 7 : 9472;
        var w = RandomBlocks(type, elements, 17 + (int)type);
        var expected = new float[elements];
        var actual = new float[elements];
        GgmlQuants.Dequantize(type, w, expected, GemmIsa.Scalar);
        GgmlQuants.Dequantize(type, w, actual, isa);
        for (int i = 0; i < elements; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{type} {isa} [{i}]: {actual[i]} vs scalar {expected[i]}");
        // The public entry point takes the best path and must agree too.
        var best = new float[elements];
        GgmlQuants.Dequantize(type, w, best);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), best.Select(BitConverter.SingleToInt32Bits));
    }
}
