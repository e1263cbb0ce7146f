using Elongate.Model;

namespace Elongate.Tests.Model;

/// <summary>Test shorthands for building and reading <see cref="Weight"/>s from plain arrays.</summary>
internal static class TestWeights
{
    /// <summary>An F32 weight of <paramref name="shape"/> ([rows, cols] or [n]) over <paramref name="values"/>.</summary>
    public static Weight W(float[] values, params long[] shape) =>
        Weight.FromFloats("test", shape.Length == 0 ? [values.LongLength] : shape, values);

    /// <summary>The weight's values as fp32 (the array itself for managed F32, else dequantized).</summary>
    public static float[] Values(this Weight w) => w.ManagedFloats ?? w.Dequantize();
}
