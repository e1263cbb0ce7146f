using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

public class RougeTests
{
    [Fact]
    public void Readme_example_with_stemmer_matches_rouge_score()
    {
        // rouge-score README: RougeScorer(['rouge1', 'rougeL'], use_stemmer=True).score(
        //   'The quick brown fox jumps over the lazy dog', 'The quick brown dog jumps on the log.')
        // → rouge1 P=0.75 R=0.66666667 F=0.70588235, rougeL P=0.625 R=0.55555556 F=0.58823529.
        var s = Rouge.Score("The quick brown fox jumps over the lazy dog", "The quick brown dog jumps on the log.", useStemmer: true);
        Assert.Equal(0.75, s.Rouge1.Precision, 12);
        Assert.Equal(2.0 / 3, s.Rouge1.Recall, 12);
        Assert.Equal(12.0 / 17, s.Rouge1.FMeasure, 12);
        Assert.Equal(0.70588, s.Rouge1.FMeasure, 5);
        Assert.Equal(0.625, s.RougeL.Precision, 12);
        Assert.Equal(5.0 / 9, s.RougeL.Recall, 12);
        Assert.Equal(0.5882, s.RougeL.FMeasure, 4);
        // Bigrams: the quick, quick brown, jump(s) … — only "the quick" and "quick brown" are shared: 2/7 and 2/8.
        Assert.Equal(2.0 / 7, s.Rouge2.Precision, 12);
        Assert.Equal(2.0 / 8, s.Rouge2.Recall, 12);
    }

    [Fact]
    public void Stemming_is_what_makes_jumps_match_jump()
    {
        // Without the stemmer "jumps" ≠ "jump"; with it both become "jump" (and "lazy" → "lazi" on both sides).
        Assert.Equal(0, Rouge.Score("he jumps", "jump", useStemmer: false).Rouge1.FMeasure);
        Assert.Equal(2.0 / 3, Rouge.Score("he jumps", "jump", useStemmer: true).Rouge1.FMeasure, 12);
        Assert.Equal(new[] { "the", "lazi", "dog", "jump", "run" }, Rouge.Tokenize("The lazy dog jumps; RUNS", useStemmer: true));
        // Only tokens longer than three characters are stemmed, as in rouge-score: "ties" (4) is, "cats"… is too, "was" is not.
        Assert.Equal(new[] { "tie", "cat", "was" }, Rouge.Tokenize("ties cats was", useStemmer: true));
    }

    [Fact]
    public void Rouge2_counts_clipped_bigram_overlap()
    {
        // the-cat, cat-sat, sat-on shared; on-the/the-mat vs on-a/a-mat not: 3 of 5 each way.
        var s = Rouge.Score("the cat sat on the mat", "the cat sat on a mat");
        Assert.Equal(new RougeScore(0.6, 0.6, 0.6), Round(s.Rouge2));
        Assert.Equal(5.0 / 6, s.Rouge1.FMeasure, 12);
        // A repeated bigram counts at most as often as the reference has it: "a a" ×2 in the reference, ×1 predicted.
        var clipped = Rouge.NGram(["a", "a", "a"], ["a", "a"], 2);
        Assert.Equal(1.0, clipped.Precision, 12);
        Assert.Equal(0.5, clipped.Recall, 12);
        // A one-token prediction has no bigram: precision 0/max(0,1) = 0.
        Assert.Equal(new RougeScore(0, 0, 0), Rouge.NGram(["a", "b"], ["a"], 2));
        Assert.Equal(new RougeScore(0, 0, 0), Rouge.Score("", "anything").Rouge1);
    }

    [Fact]
    public void Geometric_mean_is_zeroscrolls_cube_root_of_the_three_f_measures()
    {
        var s = new RougeScores(new RougeScore(0, 0, 0.8), new RougeScore(0, 0, 0.4), new RougeScore(0, 0, 0.5));
        Assert.Equal(Math.Pow(0.8 * 0.4 * 0.5, 1.0 / 3), s.GeometricMean, 12);
        Assert.Equal(0.5428835233189814, s.GeometricMean, 12);
        Assert.Equal(0, (s with { Rouge2 = default }).GeometricMean);
        // The benchmarks aggregate first: geometric mean of the means, which is not the mean of geometric means.
        var a = new RougeScores(new RougeScore(1, 1, 1), new RougeScore(1, 1, 0), new RougeScore(1, 1, 1));
        var b = new RougeScores(new RougeScore(1, 1, 1), new RougeScore(1, 1, 1), new RougeScore(1, 1, 1));
        var mean = RougeScores.Mean([a, b]);
        Assert.Equal(0.5, mean.Rouge2.FMeasure, 12);
        Assert.Equal(Math.Pow(0.5, 1.0 / 3), mean.GeometricMean, 12);
        Assert.Equal(0.5, (a.GeometricMean + b.GeometricMean) / 2, 12);
        Assert.Equal(default, RougeScores.Mean([]));
    }

    [Fact]
    public void RougeL_of_Rouge_equals_the_existing_RougeL_scorer()
    {
        const string reference = "Police killed the gunman. The gunman was shot.", prediction = "The gunman was shot dead by police.";
        Assert.Equal(RougeL.Score(reference, prediction), Rouge.Score(reference, prediction).RougeL);
    }

    private static RougeScore Round(RougeScore s) => new(Math.Round(s.Precision, 12), Math.Round(s.Recall, 12), Math.Round(s.FMeasure, 12));
}
