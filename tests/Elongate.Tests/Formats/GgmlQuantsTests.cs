using System.Buffers.Binary;
using Elongate.Formats;
using Elongate.Kernels;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>
/// Dequantization of hand-built blocks. Each expected value is computed in the test from the format's definition in
/// ggml-common.h (which bits hold which weight, what the scales multiply), written independently of the kernel's
/// loop structure, so a wrong bit position or nibble order fails.
/// </summary>
public class GgmlQuantsTests
{
    private static void Half(byte[] b, int at, float v) => BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(at), (Half)v);

    private static float[] Deq(GgmlType t, byte[] block)
    {
        var y = new float[GgmlTypes.BlockSize(t) * (block.Length / GgmlTypes.TypeSize(t))];
        GgmlQuants.Dequantize(t, block, y);
        return y;
    }

    [Theory]
    [InlineData(GgmlType.F32, 1, 4)]
    [InlineData(GgmlType.F16, 1, 2)]
    [InlineData(GgmlType.BF16, 1, 2)]
    [InlineData(GgmlType.Q4_0, 32, 18)]
    [InlineData(GgmlType.Q4_1, 32, 20)]
    [InlineData(GgmlType.Q5_0, 32, 22)]
    [InlineData(GgmlType.Q5_1, 32, 24)]
    [InlineData(GgmlType.Q8_0, 32, 34)]
    [InlineData(GgmlType.Q4_K, 256, 144)]
    [InlineData(GgmlType.Q5_K, 256, 176)]
    [InlineData(GgmlType.Q6_K, 256, 210)]
    [InlineData(GgmlType.Q8_K, 256, 292)]
    public void BlockTableMatchesGgmlCommon(GgmlType t, int blockSize, int typeSize)
    {
        // Sizes from ggml-common.h's static_asserts (e.g. sizeof(block_q4_K) == 2*sizeof(ggml_half) + K_SCALE_SIZE + QK_K/2).
        Assert.Equal(blockSize, GgmlTypes.BlockSize(t));
        Assert.Equal(typeSize, GgmlTypes.TypeSize(t));
        Assert.True(GgmlTypes.IsSupported((uint)t));
    }

    [Fact]
    public void Q4_0_LowNibblesAreFirstHalfHighNibblesSecondHalf()
    {
        var b = new byte[18];
        Half(b, 0, 0.5f);
        for (int j = 0; j < 16; j++) b[2 + j] = (byte)(j | ((15 - j) << 4));
        var y = Deq(GgmlType.Q4_0, b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((j - 8) * 0.5f, y[j]);
            Assert.Equal((15 - j - 8) * 0.5f, y[j + 16]);
        }
    }

    [Fact]
    public void Q4_1_AddsTheMinimum()
    {
        var b = new byte[20];
        Half(b, 0, 0.25f);
        Half(b, 2, -1.5f);
        for (int j = 0; j < 16; j++) b[4 + j] = (byte)((j * 7 % 16) | ((j * 3 % 16) << 4));
        var y = Deq(GgmlType.Q4_1, b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(j * 7 % 16 * 0.25f - 1.5f, y[j]);
            Assert.Equal(j * 3 % 16 * 0.25f - 1.5f, y[j + 16]);
        }
    }

    // In Q5_0/Q5_1, bit i of the 32-bit qh is the fifth (value 16) bit of weight i.
    private static int FifthBit(uint qh, int i) => (int)((qh >> i) & 1) * 16;

    [Fact]
    public void Q5_0_FifthBitOfWeightIComesFromBitIOfQh()
    {
        var b = new byte[22];
        Half(b, 0, 0.125f);
        uint qh = 0xA5C3_0F96;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(2), qh);
        for (int j = 0; j < 16; j++) b[6 + j] = (byte)(((j + 5) % 16) | ((j * 11 % 16) << 4));
        var y = Deq(GgmlType.Q5_0, b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal(((j + 5) % 16 + FifthBit(qh, j) - 16) * 0.125f, y[j]);
            Assert.Equal((j * 11 % 16 + FifthBit(qh, j + 16) - 16) * 0.125f, y[j + 16]);
        }
    }

    [Fact]
    public void Q5_1_FifthBitPlusMinimum()
    {
        var b = new byte[24];
        Half(b, 0, 0.5f);
        Half(b, 2, 2.25f);
        uint qh = 0x1234_FEDC;
        BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(4), qh);
        for (int j = 0; j < 16; j++) b[8 + j] = (byte)((15 - j) | (j << 4));
        var y = Deq(GgmlType.Q5_1, b);
        for (int j = 0; j < 16; j++)
        {
            Assert.Equal((15 - j + FifthBit(qh, j)) * 0.5f + 2.25f, y[j]);
            Assert.Equal((j + FifthBit(qh, j + 16)) * 0.5f + 2.25f, y[j + 16]);
        }
    }

    [Fact]
    public void Q8_0_SignedBytesTimesScale()
    {
        var b = new byte[34];
        Half(b, 0, 0.0625f);
        for (int j = 0; j < 32; j++) b[2 + j] = unchecked((byte)(sbyte)(j * 8 - 128));
        var y = Deq(GgmlType.Q8_0, b);
        for (int j = 0; j < 32; j++) Assert.Equal((j * 8 - 128) * 0.0625f, y[j]);
    }

    // Q4_K / Q5_K: eight sub-blocks of 32, each with a 6-bit scale and 6-bit min packed into 12 bytes.
    private static readonly int[] Sc = [1, 5, 17, 63, 2, 33, 40, 12];
    private static readonly int[] Mn = [0, 3, 63, 7, 9, 20, 1, 62];

    private static void PackScalesK4(byte[] b, int at)
    {
        // Sub-blocks 0-3: low 6 bits of bytes 0-3 (scale) and 4-7 (min). Sub-blocks 4-7: low/high nibble of bytes 8-11
        // hold the low 4 bits of scale/min; their top 2 bits go to the top 2 bits of bytes 0-3 (scale) and 4-7 (min).
        for (int j = 0; j < 4; j++)
        {
            b[at + j] = (byte)(Sc[j] | ((Sc[j + 4] >> 4) << 6));
            b[at + j + 4] = (byte)(Mn[j] | ((Mn[j + 4] >> 4) << 6));
            b[at + j + 8] = (byte)((Sc[j + 4] & 15) | ((Mn[j + 4] & 15) << 4));
        }
    }

    [Fact]
    public void Q4_K_SuperBlockWithChosenScalesAndMins()
    {
        var b = new byte[144];
        Half(b, 0, 0.5f);
        Half(b, 2, 0.25f);
        PackScalesK4(b, 4);
        var rng = new Random(4);
        var q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = rng.Next(16);
        // Weights 64k..64k+31 (sub-block 2k) are the low nibbles of qs[32k..32k+31]; 64k+32.. (sub-block 2k+1) the high nibbles.
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
                b[16 + 32 * k + l] = (byte)(q[64 * k + l] | (q[64 * k + 32 + l] << 4));
        var y = Deq(GgmlType.Q4_K, b);
        for (int i = 0; i < 256; i++)
        {
            int s = i / 32;
            Assert.Equal(0.5f * Sc[s] * q[i] - 0.25f * Mn[s], y[i]);
        }
    }

    [Fact]
    public void Q5_K_HighBitOfSubBlockSIsBitSOfQh()
    {
        var b = new byte[176];
        Half(b, 0, 0.125f);
        Half(b, 2, 1.5f);
        PackScalesK4(b, 4);
        var rng = new Random(5);
        var q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = rng.Next(32);
        for (int i = 0; i < 256; i++)
        {
            int s = i / 32, l = i % 32, k = s / 2;
            if ((q[i] & 16) != 0) b[16 + l] |= (byte)(1 << s);
            int at = 48 + 32 * k + l;
            b[at] |= (byte)(s % 2 == 0 ? q[i] & 15 : (q[i] & 15) << 4);
        }
        var y = Deq(GgmlType.Q5_K, b);
        for (int i = 0; i < 256; i++)
        {
            int s = i / 32;
            Assert.Equal(0.125f * Sc[s] * q[i] - 1.5f * Mn[s], y[i]);
        }
    }

    [Fact]
    public void Q6_K_SixteenSignedScalesAndSixBitQuants()
    {
        var b = new byte[210];
        var rng = new Random(6);
        var q = new int[256];
        for (int i = 0; i < 256; i++) q[i] = rng.Next(64);
        var sc = new sbyte[16];
        for (int s = 0; s < 16; s++) sc[s] = (sbyte)(rng.Next(256) - 128);
        // Halves of 128: within a half, quarter k=0..3 and lane l=0..31. Low 4 bits: ql[64n+l] (k=0 low, k=2 high nibble),
        // ql[64n+32+l] (k=1 low, k=3 high). High 2 bits: bits 2k..2k+1 of qh[32n+l]. Scale of weight i: sc[i/16].
        for (int i = 0; i < 256; i++)
        {
            int n = i / 128, r = i % 128, k = r / 32, l = r % 32;
            int qlAt = 64 * n + (k % 2 == 1 ? 32 : 0) + l;
            b[qlAt] |= (byte)(k < 2 ? q[i] & 15 : (q[i] & 15) << 4);
            b[128 + 32 * n + l] |= (byte)((q[i] >> 4) << (2 * k));
        }
        for (int s = 0; s < 16; s++) b[192 + s] = unchecked((byte)sc[s]);
        Half(b, 208, 0.01f);
        float d = (float)(Half)0.01f;
        var y = Deq(GgmlType.Q6_K, b);
        for (int i = 0; i < 256; i++) Assert.Equal(d * sc[i / 16] * (q[i] - 32), y[i]);
    }

    [Fact]
    public void Q8_K_Fp32ScaleTimesSignedBytes()
    {
        var b = new byte[292];
        BinaryPrimitives.WriteSingleLittleEndian(b, 0.03f);
        for (int i = 0; i < 256; i++) b[4 + i] = unchecked((byte)(sbyte)(i - 128));
        var y = Deq(GgmlType.Q8_K, b);
        for (int i = 0; i < 256; i++) Assert.Equal(0.03f * (i - 128), y[i]);
    }

    [Fact]
    public void BFloat16_IsTheTopHalfAndRoundsToNearestEven()
    {
        Assert.Equal(1f, GgmlQuants.BFloat16ToSingle(0x3F80));
        Assert.Equal(-3f, GgmlQuants.BFloat16ToSingle(0xC040));
        Assert.Equal(0x3F80, GgmlQuants.SingleToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie, even stays
        Assert.Equal(0x3F82, GgmlQuants.SingleToBFloat16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie, odd rounds up
        Assert.Equal(0x3F81, GgmlQuants.SingleToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001))); // above the tie
        Assert.True(float.IsNaN(GgmlQuants.BFloat16ToSingle(GgmlQuants.SingleToBFloat16(float.NaN))));
        Assert.Equal(0x7F80, GgmlQuants.SingleToBFloat16(float.PositiveInfinity));
    }

    [Fact]
    public void Q8_0_QuantizeRoundsHalfAwayFromZeroLikeTheReference()
    {
        // amax 127 gives d = 1 exactly, so x/d lands on .5 and round-half-even would differ from C's roundf.
        var x = new float[32];
        x[0] = 127f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.5f; x[4] = -126.5f; x[5] = 3.49f;
        var q = GgmlQuants.Quantize(GgmlType.Q8_0, x);
        Assert.Equal(1f, (float)BinaryPrimitives.ReadHalfLittleEndian(q));
        Assert.Equal([127, 3, -3, 1, -127, 3], q.AsSpan(2, 6).ToArray().Select(v => (int)(sbyte)v));
        // An all-zero block has d = 0 and all-zero quants (no division by zero).
        Assert.All(GgmlQuants.Quantize(GgmlType.Q8_0, new float[32]), v => Assert.Equal(0, v));
    }

    [Fact]
    public void Q8_0_QuantizeDequantizeErrorIsWithinHalfAStepPlusScaleRounding()
    {
        var rng = new Random(8);
        var x = new float[32 * 200];
        for (int i = 0; i < x.Length; i++) x[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-4, 3)));
        var y = new float[x.Length];
        GgmlQuants.Dequantize(GgmlType.Q8_0, GgmlQuants.Quantize(GgmlType.Q8_0, x), y);
        double worst = 0;
        for (int b = 0; b < x.Length / 32; b++)
        {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = Math.Max(amax, Math.Abs(x[b * 32 + j]));
            float d = amax / 127f, d16 = (float)(Half)d;
            // |x - q·d16| ≤ |x - q·d| + |q|·|d - d16| ≤ d/2 + 127·|d - d16| (plus float rounding slack).
            double bound = d / 2 + 127 * Math.Abs(d - d16) + 1e-6 * amax;
            for (int j = 0; j < 32; j++)
            {
                double err = Math.Abs(x[b * 32 + j] - y[b * 32 + j]);
                Assert.True(err <= bound, $"block {b} elem {j}: error {err} > bound {bound}");
                worst = Math.Max(worst, err / amax);
            }
        }
        Assert.True(worst < 0.5 / 127 + 127 * Math.Pow(2, -11) / 127 + 1e-6); // relative to the block's max
    }

    [Fact]
    public void F16AndBF16QuantizeRoundTripExactlyRepresentableValues()
    {
        float[] x = [0f, 1f, -2.5f, 65504f, MathF.Pow(2, -14), MathF.Pow(2, -24), -1025f, 0.333251953125f];
        var y = new float[x.Length];
        GgmlQuants.Dequantize(GgmlType.F16, GgmlQuants.Quantize(GgmlType.F16, x), y);
        Assert.Equal(x, y);
        float[] xb = [0f, 1f, -2.5f, 1.5f * (1 << 20), -0.0078125f, 3.3895314e38f];
        var yb = new float[xb.Length];
        GgmlQuants.Dequantize(GgmlType.BF16, GgmlQuants.Quantize(GgmlType.BF16, xb), yb);
        Assert.Equal(xb, yb);
    }
}
