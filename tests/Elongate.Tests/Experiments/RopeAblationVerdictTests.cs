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
}
