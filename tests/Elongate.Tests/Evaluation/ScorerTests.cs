using Elongate.Evaluation;

namespace Elongate.Tests.Evaluation;

public class ScorerTests
{
    [Fact]
    public void RougeL_matches_hand_computed_lcs_f_measure()
    {
        // rouge-score's README example: target "The quick brown fox jumps over the lazy dog",
        // prediction "The quick brown dog jumps on the log." → LCS "the quick brown jumps the" = 5 tokens;
        // P = 5/8, R = 5/9, F = 2PR/(P+R) = 10/17 (rouge-score prints 0.5882352941176471).
        var s = RougeL.Score("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log.");
        Assert.Equal(5.0 / 8, s.Precision, 12);
        Assert.Equal(5.0 / 9, s.Recall, 12);
        Assert.Equal(10.0 / 17, s.FMeasure, 12);
    }

    [Fact]
    public void RougeL_tokenizes_like_rouge_score()
    {
        Assert.Equal(new[] { "it", "s", "a", "test", "42" }, RougeL.Tokenize("It's a TEST -- 42!"));
        Assert.Equal(new RougeScore(0, 0, 0), RougeL.Score("", "anything"));
        Assert.Equal(new RougeScore(0, 0, 0), RougeL.Score("abc", "xyz"));
        Assert.Equal(1.0, RougeL.Score("a b c", "A, b; C.").FMeasure, 12);
        // Order matters for a subsequence: "c b a" vs "a b c" share only one token in order.
        Assert.Equal(1.0 / 3, RougeL.Score("a b c", "c b a").FMeasure, 12);
    }

    [Theory]
    [InlineData(" 12345. Remember it.", 12345L)]
    [InlineData("The pass key is 7 and 8", 7L)]
    [InlineData("no digits here", null)]
    [InlineData("-42", 42L)]  // a sign is not part of the integer, as in the landmark-attention scorer
    [InlineData("x99999999999999999999999", null)]
    public void Passkey_first_integer(string text, long? expected) => Assert.Equal(expected, PasskeyProbe.FirstInteger(text));

    [Fact]
    public void Passkey_prompt_places_the_needle_at_the_depth()
    {
        var start = PasskeyProbe.BuildPrompt(31415, 4, 0);
        Assert.StartsWith(PasskeyProbe.TaskLine + " " + PasskeyProbe.Needle(31415), start);
        Assert.EndsWith(PasskeyProbe.Question, start);
        var end = PasskeyProbe.BuildPrompt(31415, 4, 1);
        Assert.EndsWith(PasskeyProbe.Needle(31415) + " " + PasskeyProbe.Question, end);
        var mid = PasskeyProbe.BuildPrompt(7, 4, 0.5);
        Assert.Contains(PasskeyProbe.Filler + " " + PasskeyProbe.Filler + " " + PasskeyProbe.Needle(7) + " " + PasskeyProbe.Filler, mid);
        Assert.True(PasskeyProbe.IsCorrect(" 31415. Remember", 31415));
        Assert.False(PasskeyProbe.IsCorrect(" 3141", 31415));
    }

    [Fact]
    public void Power_law_fit_recovers_known_parameters_from_noisy_points()
    {
        const double alpha = 180, beta = 0.45, gamma = 1.7;
        var rng = new Random(7);
        var cs = new[] { 64.0, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768 };
        var ls = cs.Select(c => Math.Pow(alpha / c, beta) + gamma + (rng.NextDouble() - 0.5) * 2e-4).ToArray();
        var fit = PowerLawFit.Fit(cs, ls);
        // Noise of ±1e-4 on losses of order 2 moves the parameters by well under 5 %.
        Assert.InRange(fit.Alpha, alpha * 0.9, alpha * 1.1);
        Assert.InRange(fit.Beta, beta * 0.95, beta * 1.05);
        Assert.InRange(fit.Gamma, gamma - 0.01, gamma + 0.01);
        Assert.True(fit.RSquared > 0.9999);
        Assert.True(fit.Rmse < 2e-4);
    }

    [Fact]
    public void Power_law_fit_refuses_a_loss_that_rises_with_context()
    {
        var e = Assert.Throws<ArgumentException>(() => PowerLawFit.Fit([256, 512, 1024, 2048], [1.60, 1.62, 1.70, 1.90]));
        Assert.Contains("does not decrease", e.Message);
    }

    [Fact]
    public void Power_law_fit_rejects_underdetermined_input() =>
        Assert.Throws<ArgumentException>(() => PowerLawFit.Fit([1, 2, 2], [1, 2, 3]));
}
