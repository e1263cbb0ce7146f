using Elongate.Experiments;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Experiments;

/// <summary>The curriculum experiment's FLOPs count and verdicts, on hand-made numbers with known answers.</summary>
public sealed class CurriculumExperimentTests
{
    [Fact]
    public void Flops_per_token_follow_the_formula_by_hand()
    {
        // 1m preset, vocabulary 512: N = 4·(2·128 + 4·128² + 3·128·384) + 128 = 853,120; d·V = 65,536.
        var c = ModelPresets.Create("1m", 512, 128);
        Assert.Equal(853_120, ModelPresets.NonEmbeddingParameters(c));
        Assert.Equal(6.0 * (853_120 + 65_536) + 12.0 * 4 * 128 * 128, TrainingFlops.PerToken(c, 128));
        Assert.Equal(6.0 * (853_120 + 65_536) + 12.0 * 4 * 1024 * 128, TrainingFlops.PerToken(c, 1024));
        Assert.Equal(12.0 * 4 * 1024 * 128 / TrainingFlops.PerToken(c, 1024), TrainingFlops.AttentionShare(c, 1024), 12);
    }

    [Fact]
    public void Llama2_7b_at_4k_and_32k_gives_the_shares_the_report_quotes()
    {
        var c = new LlamaConfig { HiddenSize = 4096, IntermediateSize = 11008, NumLayers = 32, NumHeads = 32, NumKvHeads = 32, VocabSize = 32000, MaxPositionEmbeddings = 4096 };
        double a = TrainingFlops.PerToken(c, 4096), b = TrainingFlops.PerToken(c, 32768);
        Assert.Equal(4.6e10, a, 0.05e10);
        Assert.Equal(9.1e10, b, 0.05e10);
        Assert.Equal(1.98, b / a, 0.005);
        Assert.Equal(0.14, TrainingFlops.AttentionShare(c, 4096), 0.005);
        Assert.Equal(0.57, TrainingFlops.AttentionShare(c, 32768), 0.005);
    }

    private static CurriculumRun Run(double f, ulong seed, double loss, double flops, params double[] windows) =>
        new(CurriculumExperiment.Name(f), f, seed, [new CurriculumStage(128, 10000, 1, 1, flops, flops, 0.5, 1)], flops, loss, loss + 0.5,
            windows.Length > 0 ? windows : [loss], 0, 0, null, 0, "runs");

    [Fact]
    public void One_seed_judges_on_a_paired_bootstrap_over_windows()
    {
        // Scratch and switch-80% differ by exactly +0.001 in every window: the interval is that point, within a 1% margin of 3.0.
        var runs = new[]
        {
            Run(0, 1, 3.0, 10, 2.9, 3.0, 3.1, 3.0),
            Run(0.8, 1, 3.001, 6, 2.901, 3.001, 3.101, 3.001),
            Run(0.2, 1, 3.2, 9, 3.1, 3.2, 3.3, 3.2),
        };
        var s = CurriculumExperiment.Summarize(runs, [0.2, 0.8], 0.01);
        Assert.Equal(["scratch", "switch-20%", "switch-80%"], s.Select(x => x.Variant));
        Assert.Equal("reference", s[0].Verdict);
        Assert.Equal(0.6, s[2].FlopsRatio, 12);
        Assert.Equal(0.001, s[2].Difference, 9);
        Assert.Equal(0.001, s[2].Upper, 9);
        Assert.Equal("reaches", s[2].Verdict);
        Assert.Equal("falls short", s[1].Verdict); // +0.2 > 0.03
        Assert.Contains("paired bootstrap", s[2].IntervalBasis);
    }

    [Fact]
    public void Several_seeds_judge_on_a_t_interval_of_the_paired_differences()
    {
        // Differences +0.01, +0.03, +0.05: mean 0.03, sd 0.02, t(0.975, 2) = 4.3027 → ±0.0497; margin 1% of 2.0 = 0.02.
        var runs = new[]
        {
            Run(0, 1, 2.0, 10), Run(0, 2, 2.1, 10), Run(0, 3, 1.9, 10),
            Run(0.4, 1, 2.01, 8), Run(0.4, 2, 2.13, 8), Run(0.4, 3, 1.95, 8),
        };
        var s = CurriculumExperiment.Summarize(runs, [0.4], 0.01)[1];
        Assert.Equal(0.03, s.Difference, 9);
        Assert.Equal(0.03 - 4.302653 * 0.02 / Math.Sqrt(3), s.Lower, 5);
        Assert.Equal(0.03 + 4.302653 * 0.02 / Math.Sqrt(3), s.Upper, 5);
        Assert.Equal("undecided", s.Verdict); // the interval straddles the 0.02 margin
        Assert.Contains("3 seeds", s.IntervalBasis);
        Assert.Equal(0.1, CurriculumExperiment.Summarize(runs, [0.4], 0.01)[0].LongLossSd!.Value, 9);
    }

    [Fact]
    public void Long_windows_tile_the_held_out_documents()
    {
        int[] Doc(int n) => Enumerable.Range(0, n).ToArray();
        var w = CurriculumExperiment.LongWindows([Doc(100), Doc(3 * 32 + 5)], 32, 10);
        Assert.Equal(6, w.Count); // 100 tokens hold 3 windows of 32 + 1 (97 tokens), 101 hold 3
        Assert.All(w, x => Assert.Equal(33, x.Length));
        Assert.Equal(32, w[1][0]); // the next window starts on the previous one's last target
        Assert.Equal(2, CurriculumExperiment.LongWindows([Doc(3 * 32 + 5)], 32, 2).Count);
    }

    [Fact]
    public void Short_theta_is_the_scaled_base_unless_given()
    {
        var o = new CurriculumOptions { OutputDirectory = "x" };
        // Longest wavelength 2π·θ^(30/32) = 13.284 × 128 tokens, as Llama 2's 54,410 = 13.284 × 4,096.
        double theta = o.ShortTheta(32);
        Assert.Equal(13.284 * 128, 2 * Math.PI * Math.Pow(theta, 30.0 / 32), 0.5);
        Assert.Equal(10_000f, (o with { Theta = 10_000f }).ShortTheta(32));
        Assert.Throws<ArgumentException>(() => (o with { RetrievalShare = 1 }).Validate());
    }

    [Fact]
    public void Options_refuse_fractions_that_leave_a_stage_empty()
    {
        var o = new CurriculumOptions { OutputDirectory = "x", Steps = 10 };
        o.Validate();
        Assert.Throws<ArgumentException>(() => (o with { Switches = [0.99] }).Validate());
        Assert.Throws<ArgumentException>(() => (o with { Switches = [1.5] }).Validate());
        Assert.Throws<ArgumentException>(() => (o with { Switches = [0.41, 0.44] }).Validate()); // both at step 4
        Assert.Throws<ArgumentException>(() => (o with { TokensPerStep = 1000 }).Validate());
        Assert.Throws<ArgumentException>(() => (o with { Seeds = [1, 1] }).Validate());
    }
}
