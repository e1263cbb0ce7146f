using Elongate.Kernels;

namespace Elongate.Tests.Training;

/// <summary>
/// The vectorized float rotation (four pairs per 256-bit vector, pair-by-pair for the rest) against the pair formula it
/// replaced, written out here: the bits must be equal, forward and backward, with and without a scale, so training and
/// inference (which share <see cref="RopeRotation"/>) rotate exactly as before. The finite-difference check of the
/// backward is in LayerGradientTests.
/// </summary>
public class RopeRotationTests
{
    [Theory]
    [InlineData(40, 38, true)]  // 19 pairs: 16 in vectors, 3 by the pair formula; 2 pass-through dims
    [InlineData(64, 64, false)] // the training head: all in vectors
    [InlineData(16, 6, true)]   // 3 pairs: no vector at all
    public void Float_rotation_is_bit_identical_to_the_pair_formula(int headDim, int rotaryDim, bool scaled)
    {
        var rng = new Random(headDim + rotaryDim);
        int seqLen = 9, heads = 3, pairs = rotaryDim / 2, rows = 2 * seqLen;
        var angles = GradCheck.Random(rng, seqLen * pairs, 4);
        var cos = angles.Select(a => (float)Math.Cos(a)).ToArray();
        var sin = angles.Select(a => (float)Math.Sin(a)).ToArray();
        var scale = scaled ? angles.Select(a => (float)(0.5 + Math.Abs(a) / 4)).ToArray() : [];
        var x = GradCheck.RandomFloat(rng, rows * heads * headDim);
        foreach (bool backward in new[] { false, true })
        {
            var y = (float[])x.Clone();
            if (backward) RopeRotation.Backward<float>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale);
            else RopeRotation.Forward<float>(y, rows, seqLen, heads, headDim, rotaryDim, cos, sin, scale);
            for (int r = 0; r < rows; r++)
                for (int h = 0; h < heads; h++)
                {
                    int at = (r * heads + h) * headDim, tb = r % seqLen * pairs;
                    for (int i = 0; i < pairs; i++)
                    {
                        float c = cos[tb + i], s = sin[tb + i];
                        if (scaled) { c *= scale[tb + i]; s *= scale[tb + i]; }
                        if (backward) s = -s;
                        float a = x[at + 2 * i], b = x[at + 2 * i + 1];
                        Assert.Equal(a * c - b * s, y[at + 2 * i]);
                        Assert.Equal(a * s + b * c, y[at + 2 * i + 1]);
                    }
                    for (int j = rotaryDim; j < headDim; j++) Assert.Equal(x[at + j], y[at + j]);
                }
        }
    }
}
