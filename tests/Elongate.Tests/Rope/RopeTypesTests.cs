using Elongate.Formats;
using Elongate.Rope;
using Elongate.Common;

namespace Elongate.Tests.Rope;

/// <summary>
/// Every RoPE type against values computed independently from the published formulas (reference code below is written
/// straight from the formulas, plus golden numbers printed by a separate Python script from the same formulas).
/// Tolerance: 1e-12 relative — both sides are double precision; only summation/ordering of pow/log differs.
/// </summary>
public class RopeTypesTests
{
    private const double Tol = 1e-12;

    // (d, s, base) points; d = 128 is Llama 2's head size.
    public static TheoryData<int, double, double> Points => new()
    {
        { 128, 4.0, 10000.0 },
        { 128, 8.0, 500000.0 },
        { 64, 2.0, 10000.0 },
        { 96, 16.0, 1000000.0 },
    };

    private static void Close(double expected, double actual, string what)
    {
        double err = Math.Abs(expected - actual) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(err <= Tol, $"{what}: expected {expected:R}, got {actual:R} (rel err {err:E2})");
    }

    private static void CloseAll(double[] expected, double[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Close(expected[i], actual[i], $"{what}[{i}]");
    }

    // RoFormer (Su et al. 2021) eq. 15: θ_i = 10000^(−2(i−1)/d), here with a general base; written via exp/log on purpose.
    private static double[] RefTheta(double b, int d) => Enumerable.Range(0, d / 2).Select(i => Math.Exp(-(2.0 * i / d) * Math.Log(b))).ToArray();

    [Theory, MemberData(nameof(Points))]
    public void Default_IsRoFormerTheta(int d, double s, double b)
    {
        _ = s;
        var f = RopeTypes.Compute(b, d);
        CloseAll(RefTheta(b, d), f.InverseFrequencies, "default");
        Assert.Equal(1.0, f.AttentionFactor);
    }

    [Theory, MemberData(nameof(Points))]
    public void Linear_IsPositionInterpolation(int d, double s, double b)
    {
        // Chen et al. 2023 (PI): f'(x, m) = f(x, m·L/L') — positions divided by s, i.e. every θ_i divided by s.
        var f = RopeTypes.Compute(b, d, new RopeScaling { Type = "linear", Factor = s });
        CloseAll(RefTheta(b, d).Select(t => t / s).ToArray(), f.InverseFrequencies, "linear");
    }

    [Theory, MemberData(nameof(Points))]
    public void Ntk_ChangesBase(int d, double s, double b)
    {
        // bloc97's NTK-aware scaling: b' = b·s^(d/(d−2)).
        var f = RopeTypes.Compute(b, d, new RopeScaling { Type = "ntk", Factor = s });
        CloseAll(RefTheta(b * Math.Pow(s, (double)d / (d - 2)), d), f.InverseFrequencies, "ntk");
    }

    [Theory, MemberData(nameof(Points))]
    public void Dynamic_UsesCurrentLengthPastL(int d, double s, double b)
    {
        // emozilla's dynamic NTK as in transformers: b' = b·((s·ℓ/L) − (s−1))^(d/(d−2)), ℓ = max(len, L).
        const int L = 4096;
        var sc = new RopeScaling { Type = "dynamic", Factor = s, OriginalContext = L };
        foreach (int len in new[] { 1, 100, 4096, 4097, 8192, 20000 })
        {
            double l = Math.Max(len, L);
            double bp = b * Math.Pow(s * l / L - (s - 1), (double)d / (d - 2));
            CloseAll(RefTheta(bp, d), RopeTypes.Compute(b, d, sc, len).InverseFrequencies, $"dynamic len={len}");
        }
    }

    private static double[] RefYarn(double b, int d, double s, int L, double bf, double bs, bool truncate)
    {
        // YaRN (Peng et al. 2023, §3.3 "NTK-by-parts") with HF's correction range: r(i) rotations, ramp γ.
        double Corr(double r) => d * Math.Log(L / (2 * Math.PI * r)) / (2 * Math.Log(b));
        double lo = Corr(bf), hi = Corr(bs);
        if (truncate) { lo = Math.Floor(lo); hi = Math.Ceiling(hi); }
        lo = Math.Max(lo, 0); hi = Math.Min(hi, d - 1);
        var th = RefTheta(b, d);
        return th.Select((t, i) =>
        {
            double ramp = Math.Min(1, Math.Max(0, (i - lo) / (hi - lo)));
            double gamma = 1 - ramp;
            return t / s * (1 - gamma) + t * gamma;
        }).ToArray();
    }

    [Theory, MemberData(nameof(Points))]
    public void Yarn_MatchesNtkByPartsRamp(int d, double s, double b)
    {
        foreach (bool truncate in new[] { true, false })
        {
            var sc = new RopeScaling { Type = "yarn", Factor = s, OriginalContext = 4096, Truncate = truncate };
            var f = RopeTypes.Compute(b, d, sc);
            CloseAll(RefYarn(b, d, s, 4096, 32, 1, truncate), f.InverseFrequencies, $"yarn truncate={truncate}");
            Close(0.1 * Math.Log(s) + 1, f.AttentionFactor, "yarn attention factor");
        }
    }

    [Fact]
    public void Yarn_GoldenValues_Llama2()
    {
        // From a separate Python evaluation of the formulas: d=128, b=10000, s=4, L=4096 → band [20, 46].
        var f = RopeTypes.Compute(10000, 128, new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 4096 });
        Close(1.0, f.InverseFrequencies[0], "i=0");
        Close(0.11547819846894582, f.InverseFrequencies[15], "i=15");
        Close(0.05623413251903491, f.InverseFrequencies[20], "i=20");
        Close(0.009488517882700576, f.InverseFrequencies[30], "i=30");
        Close(0.001079569278892681, f.InverseFrequencies[41], "i=41");
        Close(2.8869549617236455e-05, f.InverseFrequencies[63], "i=63");
        Close(1.138629436111989, f.AttentionFactor, "attention");
        // truncate=false, d=64, b=500000, s=8, L=8192 (band [9.04, 17.49]).
        var g = RopeTypes.Compute(500000, 64, new RopeScaling { Type = "yarn", Factor = 8, OriginalContext = 8192, Truncate = false });
        Close(0.12868737343265052, g.InverseFrequencies[5], "nt i=5");
        Close(0.014915458798073454, g.InverseFrequencies[10], "nt i=10");
        Close(3.767322690173964e-07, g.InverseFrequencies[31], "nt i=31");
    }

    [Fact]
    public void Yarn_AttentionFactorAtFourIsOnePlusTenthLnFour()
    {
        var f = RopeTypes.Compute(10000, 128, new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 4096 });
        Assert.Equal(1 + 0.1 * Math.Log(4), f.AttentionFactor, 15);
    }

    [Fact]
    public void Yarn_DeepSeekMScaleRatio()
    {
        // DeepSeek-V2: get_mscale(s, mscale)/get_mscale(s, mscale_all_dim); equal mscales cancel to 1.
        var eq = RopeTypes.Compute(10000, 64, new RopeScaling { Type = "yarn", Factor = 40, OriginalContext = 4096, MScale = 0.707, MScaleAllDim = 0.707 });
        Close(1.0, eq.AttentionFactor, "equal mscales");
        var r = RopeTypes.Compute(10000, 64, new RopeScaling { Type = "yarn", Factor = 40, OriginalContext = 4096, MScale = 1.0, MScaleAllDim = 0.5 });
        Close(1.1557219901962608, r.AttentionFactor, "ratio");
        var x = RopeTypes.Compute(10000, 64, new RopeScaling { Type = "yarn", Factor = 40, OriginalContext = 4096, AttentionFactor = 0.9 });
        Assert.Equal(0.9, x.AttentionFactor);
    }

    [Fact]
    public void Llama3_ThreeBands()
    {
        // Llama 3.1 reference (Meta's apply_scaling): wavelen < L/high → θ; wavelen > L/low → θ/s; else blend.
        const double b = 500000, s = 8; const int d = 128, L = 8192;
        var sc = new RopeScaling { Type = "llama3", Factor = s, OriginalContext = L, LowFreqFactor = 1, HighFreqFactor = 4 };
        var f = RopeTypes.Compute(b, d, sc).InverseFrequencies;
        var th = RefTheta(b, d);
        int high = 0, low = 0, mid = 0;
        for (int i = 0; i < th.Length; i++)
        {
            double wl = 2 * Math.PI / th[i];
            if (wl < L / 4.0) { Close(th[i], f[i], $"high band {i}"); high++; }
            else if (wl > L / 1.0) { Close(th[i] / s, f[i], $"low band {i}"); low++; }
            else
            {
                double smooth = (L / wl - 1) / (4 - 1);
                Close((1 - smooth) * th[i] / s + smooth * th[i], f[i], $"mid band {i}");
                Assert.True(f[i] < th[i] && f[i] > th[i] / s, $"mid band {i} lies strictly between θ/s and θ");
                mid++;
            }
        }
        Assert.True(high > 0 && low > 0 && mid > 0, $"all three bands populated: {high}/{mid}/{low}");
        // Golden values (Python): indices 0, 20, 40, 45, 50, 63.
        Close(1.0, f[0], "g0"); Close(0.016560440080994446, f[20], "g20"); Close(3.428102195952591e-05, f[40], "g40");
        Close(1.2297638677963614e-05, f[45], "g45"); Close(4.411534674558404e-06, f[50], "g50"); Close(3.068925988914511e-07, f[63], "g63");
    }

    [Fact]
    public void LongRope_ChoosesFactorsByLengthAndScalesAttention()
    {
        const int d = 8, L = 4096;
        var sc = new RopeScaling
        {
            Type = "longrope", Factor = 32, OriginalContext = L,
            ShortFactor = [1.0, 1.5, 2.0, 3.0], LongFactor = [1.0, 4.0, 16.0, 32.0],
        };
        var th = RefTheta(10000, d);
        var shortF = RopeTypes.Compute(10000, d, sc, L);
        var longF = RopeTypes.Compute(10000, d, sc, L + 1);
        CloseAll(th.Select((t, i) => t / sc.ShortFactor[i]).ToArray(), shortF.InverseFrequencies, "short");
        CloseAll(th.Select((t, i) => t / sc.LongFactor[i]).ToArray(), longF.InverseFrequencies, "long");
        // Phi-3 / LongRoPE: √(1 + ln s / ln L); Python: 1.1902380714238083.
        Close(Math.Sqrt(1 + Math.Log(32) / Math.Log(L)), longF.AttentionFactor, "attention");
        Close(1.1902380714238083, shortF.AttentionFactor, "attention golden");
        Assert.True(sc.IsLengthDependent);
    }

    [Fact]
    public void NtkAndDynamic_GoldenBases()
    {
        Close(40889.94243248622, 10000 * Math.Pow(4, 128.0 / 126), "ntk base golden");
        var ntk = RopeTypes.Compute(10000, 128, new RopeScaling { Type = "ntk", Factor = 4 });
        Close(0.19029830587539176, ntk.InverseFrequencies[10], "ntk θ_10 golden");
        Close(30527.7367488067, RopeTypes.DynamicBase(10000, 128, 2, 4096, 8192), "dynamic base golden");
    }

    [Theory, MemberData(nameof(Points))]
    public void FactorOne_EqualsDefault(int d, double s, double b)
    {
        _ = s;
        var def = RopeTypes.Compute(b, d);
        foreach (var t in new[] { "linear", "ntk", "yarn", "dynamic" })
            foreach (int len in new[] { 1, 4096 })
            {
                var f = RopeTypes.Compute(b, d, new RopeScaling { Type = t, Factor = 1, OriginalContext = 4096 }, len);
                CloseAll(def.InverseFrequencies, f.InverseFrequencies, $"{t} s=1 len={len}");
                Assert.Equal(1.0, f.AttentionFactor);
            }
        // linear, ntk and yarn do not look at the length, so s = 1 is default at every length. Dynamic does: past L the
        // formula b·((s·ℓ/L) − (s−1))^(d/(d−2)) at s = 1 is b·(ℓ/L)^(d/(d−2)), not b (transformers behaves the same).
        var dyn = RopeTypes.Compute(b, d, new RopeScaling { Type = "dynamic", Factor = 1, OriginalContext = 4096 }, 8192);
        CloseAll(RefTheta(b * Math.Pow(2.0, (double)d / (d - 2)), d), dyn.InverseFrequencies, "dynamic s=1 past L");
    }

    [Theory, MemberData(nameof(Points))]
    public void DynamicBelowL_EqualsDefault(int d, double s, double b)
    {
        var sc = new RopeScaling { Type = "dynamic", Factor = s, OriginalContext = 4096 };
        foreach (int len in new[] { 1, 2048, 4096 })
            CloseAll(RopeTypes.Compute(b, d).InverseFrequencies, RopeTypes.Compute(b, d, sc, len).InverseFrequencies, $"len={len}");
        Assert.NotEqual(RopeTypes.Compute(b, d).InverseFrequencies[1], RopeTypes.Compute(b, d, sc, 4097).InverseFrequencies[1]);
    }

    [Fact]
    public void AbfWithBase10000_EqualsLlama2Default()
    {
        // ABF is the default type with another base; at b = 10,000 it must be exactly Llama 2's RoPE (Meta's
        // precompute_freqs_cis: 1 / 10000^(arange(0, d, 2)/d)).
        var abf = RopeTypes.Compute(10000, 128, RopeScaling.None).InverseFrequencies;
        for (int i = 0; i < 64; i++) Close(1.0 / Math.Pow(10000, (2.0 * i) / 128), abf[i], $"θ_{i}");
        var abf500k = RopeTypes.Compute(500000, 128).InverseFrequencies;
        Assert.True(abf500k[1..].Zip(abf[1..]).All(p => p.First < p.Second), "a larger base lowers every frequency but θ_0");
    }

    [Fact]
    public void Xpos_ZetaIsTorchscaleScale()
    {
        // torchscale XPOS: scale = (arange(0, head_dim, 2) + 0.4·head_dim) / (1.4·head_dim).
        var z = RopeTypes.XposZeta(128);
        for (int j = 0; j < 64; j++) Close((2.0 * j + 0.4 * 128) / (1.4 * 128), z[j], $"ζ_{j}");
        Close(0.4 / 1.4, z[0], "ζ_0");
        Assert.True(z.All(v => v < 1));
        CloseAll(RefTheta(10000, 128), RopeTypes.Compute(10000, 128, new RopeScaling { Type = "xpos" }).InverseFrequencies, "xpos θ");
    }

    [Fact]
    public void RopeFreqsTensorDividesFrequencies()
    {
        var ff = Enumerable.Range(0, 32).Select(i => 1.0 + i).ToArray();
        var f = RopeTypes.Compute(10000, 64, new RopeScaling { FrequencyFactors = ff }).InverseFrequencies;
        var th = RefTheta(10000, 64);
        for (int i = 0; i < 32; i++) Close(th[i] / ff[i], f[i], $"ff {i}");
    }

    [Fact]
    public void Validate_RejectsImpossibleSettings()
    {
        static string Err(RopeScaling s, int? max = null, int? d = null) =>
            Assert.Throws<ModelFormatException>(() => s.Validate("model.gguf", max, d)).Message;
        Assert.Contains("factor must be", Err(new RopeScaling { Type = "linear", Factor = 0.5 }));
        Assert.Contains("unknown RoPE scaling type 'turbo'", Err(new RopeScaling { Type = "turbo" }));
        Assert.Contains("must be below the current maximum context", Err(new RopeScaling { Type = "llama3", Factor = 8, OriginalContext = 8192 }, max: 8192));
        Assert.Contains("needs the original", Err(new RopeScaling { Type = "yarn", Factor = 4 }));
        Assert.Contains("contradicts", Err(new RopeScaling { Type = "default", Factor = 4 }));
        Assert.Contains("beta_fast > beta_slow", Err(new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 4096, BetaFast = 1, BetaSlow = 32 }));
        Assert.Contains("high_freq_factor", Err(new RopeScaling { Type = "llama3", Factor = 8, OriginalContext = 8192, LowFreqFactor = 4, HighFreqFactor = 1 }));
        Assert.Contains("expected rotaryDim/2", Err(new RopeScaling { Type = "longrope", Factor = 4, OriginalContext = 4096, ShortFactor = [1, 1], LongFactor = [1, 1] }, d: 128));
        Assert.Contains("model.gguf", Err(new RopeScaling { Type = "linear", Factor = double.NaN }));
        // A valid llama3 (Llama 3.1: L = 8192 < 131072) passes.
        new RopeScaling { Type = "llama3", Factor = 8, OriginalContext = 8192 }.Validate("x", 131072, 128);
    }
}
