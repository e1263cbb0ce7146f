using Elongate.Evaluation;
using Elongate.Experiments;

namespace Elongate.Tests.Experiments;

/// <summary>The verdicts are computed from the numbers: hand-made scores with known answers.</summary>
public sealed class RopeAblationVerdictTests
{
    private static AblationVariant V(string name, int trained, params (int Length, double Loss, double? Passkey)[] scores) =>
        new(name, name, 10000, null, trained, 1, null, null, 0, 0,
            scores.Select(s => new AblationScore(s.Length, s.Length / 256.0, s.Loss, s.Passkey, null)).ToList(), null!, null, null, name);

    [Fact]
    public void Ordering_matches_only_when_abf_at_most_pi_below_rope()
    {
        var variants = new[]
        {
            V("rope", 1024, (1024, 3.0, null), (2048, 4.0, null)),
            V("pi", 1024, (1024, 2.5, null), (2048, 2.6, null)),
            V("abf", 1024, (1024, 2.5, null), (2048, 2.7, null)),
        };
        var o = RopeAblation.Orderings(variants, [1024, 2048], 256);
        Assert.True(o[0].MatchesPaper); // ABF = PI < RoPE: ties count for the paper (≤)
        Assert.False(o[1].MatchesPaper); // ABF above PI
        Assert.Equal((false, true), (o[1].AbfAtMostPi!.Value, o[1].PiBelowRope!.Value));
        Assert.Equal("pi (2.6000) < abf (2.7000) < rope (4.0000)", o[1].Ordering);
        Assert.Equal(8.0, o[1].Multiple);
    }

    [Fact]
    public void Collapse_needs_retrieval_within_the_trained_length_and_halving_beyond()
    {
        var c = RopeAblation.Collapses([
            V("rope", 1024, (512, 2, 1.0), (1024, 2, 0.5), (2048, 3, 0.4)),
            V("abf", 1024, (512, 2, 1.0), (2048, 2, 0.6)),
            V("base", 256, (256, 2, 0.0), (512, 3, 0.0)),
        ]).Where(x => x.Task == "passkey").ToList();
        Assert.Equal((1.0, 0.4, true), (c[0].WithinTrained!.Value, c[0].BeyondTrained!.Value, c[0].Collapses!.Value));
        Assert.False(c[1].Collapses);
        Assert.Null(c[2].Collapses); // nothing to lose
    }

    [Fact]
    public void Loss_documents_are_cut_to_whole_windows_of_the_longest_length()
    {
        int[] Doc(int n) => Enumerable.Range(0, n).ToArray();
        var docs = RopeAblation.SameTokensAtEveryLength([Doc(100), Doc(2 * 256 + 50), Doc(3 * 256 + 1), Doc(5 * 256 + 7)], 256, maxWindows: 4);
        // 100 tokens: no window; 562: 2 windows (513 tokens); 769: 3 windows but only 2 left of the budget of 4.
        Assert.Equal([513, 513], docs.Select(d => d.Length));
        Assert.Equal(Doc(513), docs[0]);
        Assert.Equal([513, 769, 1281], RopeAblation.SameTokensAtEveryLength([Doc(562), Doc(769), Doc(1287)], 256, 0).Select(d => d.Length));
    }

    [Fact]
    public void First_sentence_collapse_is_judged_only_above_chance_overlap()
    {
        AblationVariant F(string name, params (int Length, double Rouge)[] scores) =>
            new(name, name, 10000, null, 256, 1, null, null, 0, 0,
                scores.Select(s => new AblationScore(s.Length, s.Length / 256.0, 2, null, s.Rouge)).ToList(), null!, null, null, name);
        var c = RopeAblation.Collapses([F("base", (256, 0.14), (512, 0.04)), F("rope", (256, 0.8), (512, 0.2))])
            .Where(x => x.Task == "first-sentence").ToList();
        Assert.Null(c[0].Collapses); // 0.14 → 0.04 is chance word overlap falling, not retrieval collapsing
        Assert.True(c[1].Collapses);
    }

    [Fact]
    public void Repeated_token_collapse_is_judged_only_above_its_floor()
    {
        AblationVariant R(string name, params (int Length, double Copy)[] scores) =>
            new(name, name, 10000, null, 256, 1, null, null, 0, 0,
                scores.Select(s => new AblationScore(s.Length, s.Length / 256.0, 2, null, null, null, s.Copy)).ToList(), null!, null, null, name);
        var c = RopeAblation.Collapses([R("base", (256, 0.006), (512, 0.003)), R("rope", (256, 0.9), (512, 0.3), (1024, 0.1)), R("abf", (256, 0.9), (512, 0.8))])
            .Where(x => x.Task == "repeated-token copy").ToList();
        Assert.Null(c[0].Collapses); // at chance (1/253): no copy to lose
        Assert.Equal((0.9, 0.2, true), (c[1].WithinTrained!.Value, c[1].BeyondTrained!.Value, c[1].Collapses!.Value));
        Assert.False(c[2].Collapses);
    }

    private static AblationSummary Sum(string name, int trained, (int Length, double Loss, double Sd)[] loss, double? passkeyAt1 = null,
        (double Mean, double Sd)? passkeyBeyond = null, (double Mean, double Sd)? beta = null, int n = 3,
        double? firstDigitAt1 = null, (double Mean, double Sd)? firstDigitBeyond = null, double? copyAt1 = null, (double Mean, double Sd)? copyBeyond = null)
    {
        AblationStat St(double m, double sd) => new(m, n < 2 ? null : sd, m - sd, m + sd, n);
        var scores = loss.Select(l => new AblationSummaryScore(l.Length, l.Length / 256.0, St(l.Loss, l.Sd),
            l.Length == 256 && passkeyAt1 is { } p ? St(p, 0) : null, null,
            l.Length == 256 && firstDigitAt1 is { } f ? St(f, 0) : null, l.Length == 256 && copyAt1 is { } c ? St(c, 0) : null)).ToList();
        return new AblationSummary(name, name, 10000, trained, n, scores, beta is { } b ? St(b.Mean, b.Sd) : null,
            passkeyBeyond is { } pb ? St(pb.Mean, pb.Sd) : null, null, firstDigitBeyond is { } fb ? St(fb.Mean, fb.Sd) : null,
            copyBeyond is { } cb ? St(cb.Mean, cb.Sd) : null);
    }

    [Fact]
    public void Loss_claims_hold_only_when_the_gap_exceeds_the_spread()
    {
        var claims = RopeAblation.Claims([
            Sum("abf", 2048, [(2048, 2.00, 0.01)]),
            Sum("pi", 2048, [(2048, 2.10, 0.01)]),
            Sum("rope", 2048, [(2048, 2.50, 0.02)]),
        ], 256, 2048);
        Assert.Equal("holds", claims[0].Verdict); // 0.10 apart, spread 0.02
        Assert.Equal("holds", claims[1].Verdict);

        claims = RopeAblation.Claims([
            Sum("abf", 2048, [(2048, 2.10, 0.05)]),
            Sum("pi", 2048, [(2048, 2.08, 0.05)]), // abf above pi, but by 0.02 < 0.10: a tie, consistent with ≤
            Sum("rope", 2048, [(2048, 2.00, 0.01)]), // rope below pi by 0.08 > 0.06: reversed
        ], 256, 2048);
        Assert.StartsWith("tie within spread", claims[0].Verdict);
        Assert.Equal("reversed", claims[1].Verdict);
        Assert.Contains("abf 2.1000 ± 0.0500", claims[0].Evidence);
    }

    [Fact]
    public void Retrieval_claim_needs_a_base_that_retrieves_and_abf_above_rope_beyond_the_spread()
    {
        (int, double, double)[] l = [(256, 2, 0), (2048, 2, 0)];
        var claims = RopeAblation.Claims([
            Sum("base", 256, l, passkeyAt1: 0.8, beta: (26.5, 0), n: 1),
            Sum("rope", 2048, l, passkeyBeyond: (0.05, 0.02)),
            Sum("abf", 2048, l, passkeyBeyond: (0.60, 0.10), beta: (0.48, 0.02)),
        ], 256, 2048);
        var passkey = claims.Single(c => c.Claim.Contains("passkey retrieval"));
        Assert.Equal("holds", passkey.Verdict);
        Assert.Equal("overlaps the paper's range", claims.Single(c => c.Claim.StartsWith("power-law β of abf")).Verdict);
        Assert.DoesNotContain(claims, c => c.Claim.StartsWith("power-law β of base")); // scored past its trained length

        claims = RopeAblation.Claims([
            Sum("base", 256, l, passkeyAt1: 0.8, n: 1),
            Sum("rope", 2048, l, passkeyBeyond: (0.70, 0.05)),
            Sum("abf", 2048, l, passkeyBeyond: (0.75, 0.05), beta: (0.2, 0.02)),
        ], 256, 2048);
        Assert.Equal("does not hold", claims.Single(c => c.Claim.Contains("passkey retrieval")).Verdict);
        Assert.Equal("below the paper's range", claims.Single(c => c.Claim.StartsWith("power-law β of abf")).Verdict);

        // A base that never retrieved has no skill to lose.
        claims = RopeAblation.Claims([
            Sum("base", 256, l, passkeyAt1: 0.0, n: 1),
            Sum("rope", 2048, l, passkeyBeyond: (0.0, 0.0)),
            Sum("abf", 2048, l, passkeyBeyond: (0.0, 0.0)),
        ], 256, 2048);
        Assert.Equal("not testable", claims.Single(c => c.Claim.Contains("passkey retrieval")).Verdict);
    }

    [Fact]
    public void First_digit_claim_is_judged_like_the_exact_one_against_its_own_chance()
    {
        (int, double, double)[] l = [(256, 2, 0), (2048, 2, 0)];
        const string Claim = "passkey first-digit retrieval";
        // Exact keys lost by both; first digits: rope at chance (1/9), abf at 0.9 ± 0.05: holds on the graded reading.
        var claims = RopeAblation.Claims([
            Sum("base", 256, l, passkeyAt1: 0.6, firstDigitAt1: 1.0, n: 1),
            Sum("rope", 2048, l, passkeyBeyond: (0.1, 0.0), firstDigitBeyond: (0.1, 0.02)),
            Sum("abf", 2048, l, passkeyBeyond: (0.1, 0.05), firstDigitBeyond: (0.9, 0.05)),
        ], 256, 2048);
        Assert.Equal("holds", claims.Single(c => c.Claim.Contains(Claim)).Verdict);
        Assert.Contains("collapse line 0.50", claims.Single(c => c.Claim.Contains(Claim)).Evidence);
        Assert.StartsWith("partly", claims.Single(c => c.Claim.Contains("passkey retrieval")).Verdict);
        // A base at chance on the first digit has nothing to keep.
        claims = RopeAblation.Claims([
            Sum("base", 256, l, passkeyAt1: 0.0, firstDigitAt1: 0.1, n: 1),
            Sum("rope", 2048, l, firstDigitBeyond: (0.1, 0.0)),
            Sum("abf", 2048, l, firstDigitBeyond: (0.9, 0.05)),
        ], 256, 2048);
        Assert.Equal("not testable", claims.Single(c => c.Claim.Contains(Claim)).Verdict);
    }

    [Fact]
    public void Repeated_token_claim_is_judged_against_its_chance_and_left_out_without_one()
    {
        (int, double, double)[] l = [(256, 2, 0), (2048, 2, 0)];
        const string Claim = "repeated-token copy retrieval";
        AblationSummary[] models =
        [
            Sum("base", 256, l, passkeyAt1: 0.6, copyAt1: 0.8, n: 1),
            Sum("rope", 2048, l, copyBeyond: (0.05, 0.01)),
            Sum("abf", 2048, l, copyBeyond: (0.6, 0.05)),
        ];
        // Without a chance (older callers) the claim is not made; with one, rope at 0.05 is under half the base's 0.8.
        Assert.DoesNotContain(RopeAblation.Claims(models, 256, 2048), c => c.Claim.Contains(Claim));
        var claim = RopeAblation.Claims(models, 256, 2048, 1.0 / 253).Single(c => c.Claim.Contains(Claim));
        Assert.Equal("holds", claim.Verdict);
        Assert.Contains("collapse line 0.40", claim.Evidence);
        // A base that copies no better than chance (the 1m models measured: 0.002–0.006 against 1/253) has nothing to keep.
        models[0] = Sum("base", 256, l, passkeyAt1: 0.6, copyAt1: 0.004, n: 1);
        Assert.Equal("not testable", RopeAblation.Claims(models, 256, 2048, 1.0 / 253).Single(c => c.Claim.Contains(Claim)).Verdict);
    }

    [Fact]
    public void First_digit_share_reads_the_first_digit_of_each_answer()
    {
        EvalTrial T(string e, string g) => new(0, e, g, e == g ? 1 : 0, 10);
        var report = new RetrievalReport("passkey", "accuracy", 64, [32], [0.25],
            [new EvalCell(32, 0.25, 0, 10, [T("67600", "66762."), T("43036", "50364."), T("12798", " 1"), T("34829", "none")])], new { }, 0);
        Assert.Equal(0.5, RopeAblation.PasskeyFirstDigitShare(report, 32)!.Value, 1e-12);
        Assert.Null(RopeAblation.PasskeyFirstDigitShare(report, 64));
    }

    [Fact]
    public void Seed_statistics_and_means_over_seeds()
    {
        var s = AblationStat.Of([1.0, 2.0, 3.0]);
        Assert.Equal((2.0, 1.0, 1.0, 3.0, 3), (s.Mean, s.Spread!.Value, s.Min, s.Max, s.N));
        Assert.Null(AblationStat.Of([4.0]).Spread);
        Assert.Equal("2.00 ± 1.00", s.Format("F2"));
        var runs = new[]
        {
            V("rope", 1024, (256, 3.0, 1.0), (1024, 2.0, 0.0)) with { SeedIndex = 0 },
            V("rope", 1024, (256, 3.2, 0.0), (1024, 2.2, 0.0)) with { SeedIndex = 1 },
        };
        var sum = RopeAblation.Summarize(runs, 256).Single();
        Assert.Equal(2, sum.Seeds);
        Assert.Equal(3.1, sum.Scores[0].Loss.Mean, 1e-12);
        Assert.Equal(0.5, sum.Scores[0].Passkey!.Mean, 1e-12);
        Assert.Equal(0.0, sum.PasskeyBeyondBase!.Mean); // only 1024 is beyond 256
        var mean = RopeAblation.MeanVariants(runs).Single();
        Assert.Equal(2.1, mean.Scores[1].Loss, 1e-12);
        Assert.Equal("rope/s1", runs[1].Label);
    }

    [Theory]
    [InlineData("12798", "12798.", 1.0)]
    [InlineData("12798", "12778.", 0.8)]      // one digit blurred
    [InlineData("18408", "18858.", 0.6)]
    [InlineData("12798", "12 798", 1.0)]      // non-digits are dropped before comparing
    [InlineData("12798", "1279", 0.8)]        // a short answer loses the missing digits
    [InlineData("12798", "127981234", 1.0)]   // only as many digits as the key are compared
    [InlineData("12798", "as resurness", 0.0)]
    [InlineData("12798", "", 0.0)]
    public void Passkey_digit_share_counts_digits_in_place(string expected, string generated, double share)
    {
        Assert.Equal(share, RopeAblation.PasskeyDigitShare(expected, generated), 1e-12);
    }

    [Fact]
    public void Passkey_digit_share_of_a_length_averages_its_depths_and_trials()
    {
        EvalTrial T(string e, string g) => new(0, e, g, e == g ? 1 : 0, 10);
        var report = new RetrievalReport("passkey", "accuracy", 64, [32, 64], [0.25, 0.75],
        [
            new EvalCell(32, 0.25, 0, 10, [T("11111", "11112"), T("22222", "22222")]),
            new EvalCell(32, 0.75, 0, 10, [T("33333", "x")]),
            new EvalCell(64, 0.25, 0, 10, [T("44444", "44444")]),
        ], new { }, 0);
        Assert.Equal((0.8 + 1 + 0) / 3, RopeAblation.PasskeyDigitShare(report, 32)!.Value, 1e-12);
        Assert.Equal(1.0, RopeAblation.PasskeyDigitShare(report, 64)!.Value, 1e-12);
        Assert.Null(RopeAblation.PasskeyDigitShare(report, 128));
        Assert.Null(RopeAblation.PasskeyDigitShare(null, 32));
    }

    [Fact]
    public void Distance_quantiles_use_the_nearest_rank()
    {
        var q = DistanceQuantiles.Of(Enumerable.Range(1, 10).Reverse())!;
        Assert.Equal((5, 9, 10, 10), (q.Median, q.P90, q.Max, q.Count));
        Assert.Equal((7, 7, 7, 1), DistanceQuantiles.Of([7]) is { } one ? (one.Median, one.P90, one.Max, one.Count) : default);
        Assert.Null(DistanceQuantiles.Of([]));
    }
}
