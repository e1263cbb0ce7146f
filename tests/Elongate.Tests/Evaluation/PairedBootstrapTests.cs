using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation;

/// <summary>Paired bootstrap intervals of a mean difference, and task comparison rows built on them.</summary>
public sealed class PairedBootstrapTests
{
    [Fact]
    public void Identical_scores_give_a_zero_difference_with_interval_zero_to_zero()
    {
        double[] scores = [1, 0, 1, 1, 0, 0.5, 1, 0];
        var r = PairedBootstrap.Compare(scores, scores, seed: 1);
        Assert.Equal(0.0, r.Difference);
        Assert.Equal(0.0, r.Lower);
        Assert.Equal(0.0, r.Upper);
        Assert.Equal(1.0, r.PValue);
        Assert.Equal(PairedBootstrap.DefaultResamples, r.Resamples);
    }

    [Fact]
    public void A_constant_shift_gives_an_interval_at_the_shift()
    {
        var random = new Random(3);
        var b = Enumerable.Range(0, 200).Select(_ => random.NextDouble()).ToArray();
        var a = b.Select(x => x + 0.25).ToArray();
        var r = PairedBootstrap.Compare(a, b, seed: 5);
        Assert.Equal(0.25, r.Difference, 12);
        Assert.Equal(0.25, r.Lower, 12);
        Assert.Equal(0.25, r.Upper, 12);
        Assert.Equal(0.0, r.PValue);   // no resample reaches 0
        Assert.Equal(r.MeanA - r.MeanB, r.Difference, 12);
    }

    [Fact]
    public void The_same_seed_gives_the_same_interval_and_another_seed_a_different_one()
    {
        var random = new Random(11);
        var a = Enumerable.Range(0, 100).Select(_ => (double)random.Next(2)).ToArray();
        var b = Enumerable.Range(0, 100).Select(_ => (double)random.Next(2)).ToArray();
        var r1 = PairedBootstrap.Compare(a, b, resamples: 2000, seed: 7);
        var r2 = PairedBootstrap.Compare(a, b, resamples: 2000, seed: 7);
        var r3 = PairedBootstrap.Compare(a, b, resamples: 2000, seed: 8);
        Assert.Equal(r1, r2);
        Assert.NotEqual((r1.Lower, r1.Upper), (r3.Lower, r3.Upper));
        Assert.InRange(r1.Difference, r1.Lower, r1.Upper);
    }

    [Fact]
    public void Intervals_cover_a_known_mean_difference_about_95_percent_of_the_time()
    {
        // 300 synthetic comparisons of 60 paired items: B ~ N(0.5, 1), A = B + 0.2 + N(0, 0.5) (correlated, as two
        // models on the same items). The true mean difference is 0.2; a 95% interval should contain it ~95% of the
        // time. The percentile bootstrap is a little liberal at n = 60, hence the band; seeded, so deterministic.
        var random = new Random(2024);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        int covered = 0, trials = 300, significant = 0;
        for (int t = 0; t < trials; t++)
        {
            var b = Enumerable.Range(0, 60).Select(_ => 0.5 + Normal()).ToArray();
            var a = b.Select(x => x + 0.2 + 0.5 * Normal()).ToArray();
            var r = PairedBootstrap.Compare(a, b, resamples: 1000, seed: t);
            if (r.Lower <= 0.2 && 0.2 <= r.Upper) covered++;
            if (r.PValue < 0.05) significant++;
        }
        double coverage = (double)covered / trials;
        Assert.InRange(coverage, 0.90, 0.98);
        // A shift of 0.2 against per-item noise 0.5 (se ≈ 0.065) is detected in nearly every trial.
        Assert.True(significant > 0.8 * trials, $"only {significant} of {trials} trials found the difference");
    }

    [Fact]
    public void Mismatched_or_empty_inputs_are_refused()
    {
        Assert.Throws<ArgumentException>(() => PairedBootstrap.Compare([1.0, 0.0], [1.0]));
        Assert.Throws<ArgumentException>(() => PairedBootstrap.Compare([], []));
        Assert.Throws<ArgumentException>(() => PairedBootstrap.Compare([double.NaN], [1.0]));
    }

    [Fact]
    public void Task_comparison_pairs_items_by_id_and_counts_the_unpaired()
    {
        var a = new Dictionary<string, double> { ["1"] = 1, ["2"] = 1, ["3"] = 0, ["4"] = 1, ["a-only"] = 1 };
        var b = new Dictionary<string, double> { ["4"] = 0, ["3"] = 0, ["2"] = 1, ["1"] = 0, ["b-only"] = 0, ["b-too"] = 1 };
        var row = TaskComparison.Compare("tpo", a, b, resamples: 1000, seed: 0);
        Assert.Equal(4, row.N);
        Assert.Equal(0.75, row.MeanA);
        Assert.Equal(0.25, row.MeanB);
        Assert.Equal(0.5, row.Difference, 12);
        Assert.Equal(1, row.OnlyInA);
        Assert.Equal(2, row.OnlyInB);
        Assert.InRange(row.Lower, 0.0, 0.5);
        Assert.InRange(row.Upper, 0.5, 1.0);

        // Dictionary order does not matter: the pairs are taken in id order.
        var reordered = TaskComparison.Compare("tpo", a.Reverse().ToDictionary(), b, resamples: 1000, seed: 0);
        Assert.Equal(row, reordered);

        var rows = TaskComparison.CompareAll(
            new Dictionary<string, IReadOnlyDictionary<string, double>> { ["tpo"] = a, ["coursera"] = new Dictionary<string, double> { ["1"] = 1 } },
            new Dictionary<string, IReadOnlyDictionary<string, double>> { ["tpo"] = b, ["coursera"] = new Dictionary<string, double> { ["1"] = 1 } },
            resamples: 500);
        Assert.Equal(new[] { "tpo", "coursera", "all" }, rows.Select(r => r.Task));
        Assert.Equal(5, rows[2].N);
        Assert.Equal(0.4, rows[2].Difference, 12);

        var table = TaskComparison.FormatTable(rows, "base", "extended");
        Assert.Contains("extended", table);
        Assert.Contains("+0.5000", table);
        Assert.Equal(4, table.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void Task_comparison_of_multiple_choice_records_uses_the_mc2_mass_for_mc2_items()
    {
        var mc2 = new MultipleChoiceItem("1/mc2", "Q: x\nA:", ["t", "f"], [0], MultipleChoiceScoring.TruthfulQaMc2);
        var a = MultipleChoiceRecord.Create(mc2, [Math.Log(0.9), Math.Log(0.1)]);
        var b = MultipleChoiceRecord.Create(mc2, [Math.Log(0.6), Math.Log(0.4)]);
        var row = TaskComparison.Compare("truthfulqa", [a], [b], resamples: 100);
        Assert.Equal(0.9, row.MeanA, 12);
        Assert.Equal(0.6, row.MeanB, 12);
        Assert.Equal(0.3, row.Difference, 12);
    }
}
