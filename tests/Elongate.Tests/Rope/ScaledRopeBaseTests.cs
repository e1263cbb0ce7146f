using Elongate.Rope;

namespace Elongate.Tests.Rope;

/// <summary>The scaled RoPE base of the miniature, checked against numbers worked by hand.</summary>
public sealed class ScaledRopeBaseTests
{
    [Fact]
    public void Longest_wavelength_of_llama2_is_13_28_times_its_context()
    {
        // 2π·10^(4·126/128) = 2π·10^3.9375 = 2π·8,659.64 = 54,410.1; ÷ 4,096 = 13.284; ÷ 32,768 = 1.660.
        double l = ScaledRopeBase.LongestWavelength(10_000, 128);
        Assert.Equal(54_410.1, l, 0.1);
        Assert.Equal(13.284, l / 4096, 0.001);
        Assert.Equal(1.660, l / 32768, 0.001);
    }

    [Fact]
    public void Miniature_theta_matches_the_ratio_by_hand()
    {
        // d = 32, L = 256: θ^(30/32) = 13.284·256/2π = 541.22, θ = 541.22^(32/30) = e^(6.29382·1.066667) = e^6.71341 = 823.4.
        double theta = ScaledRopeBase.MatchLongestWavelength(32, 256);
        Assert.Equal(823.4, theta, 0.1);
        Assert.Equal(13.284 * 256, ScaledRopeBase.LongestWavelength(theta, 32), 0.5);
        // The reference maps to itself, and L = 128 gives (13.284·128/2π)^(16/15) = 270.61^1.06667 = 393.1.
        Assert.Equal(10_000, ScaledRopeBase.MatchLongestWavelength(128, 4096), 1e-6);
        Assert.Equal(393.1, ScaledRopeBase.MatchLongestWavelength(32, 128), 0.1);
        Assert.Throws<ArgumentOutOfRangeException>(() => ScaledRopeBase.MatchLongestWavelength(31, 256));
        Assert.Throws<ArgumentOutOfRangeException>(() => ScaledRopeBase.LongestWavelength(1, 32));
    }

    [Fact]
    public void Scaled_decay_follows_llama2_at_the_same_relative_distances_and_theta_10000_does_not()
    {
        double[] x = [0.5, 1, 2, 4, 8];
        var llama = ScaledRopeBase.RelativeDecay(10_000, 128, 4096, x);
        var scaled = ScaledRopeBase.RelativeDecay(ScaledRopeBase.MatchLongestWavelength(32, 256), 32, 256, x);
        var old = ScaledRopeBase.RelativeDecay(10_000, 32, 256, x);
        // Independently computed (Python, same formula, every integer Δ of the ±10% window): llama 0.102 0.037 −0.018
        // −0.054 −0.004; scaled 0.113 0.056 0.036 −0.114 0.008; θ 10,000 at d 32: 0.423 0.286 0.137 0.165 0.127.
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(scaled[i] - llama[i]) < 0.07, $"x = {x[i]}: scaled {scaled[i]:F3}, llama {llama[i]:F3}");
        Assert.Equal(0.286, old[1], 0.001);
        Assert.Equal(-0.114, scaled[3], 0.001);
        Assert.Equal(0.037, llama[1], 0.001);
        Assert.True(old.Zip(llama).All(p => p.First - p.Second > 0.1));
    }
}
