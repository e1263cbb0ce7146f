using Elongate.Evaluation;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

public class TokenF1Tests
{
    // SQuAD's normalize_answer: lower, strip string.punctuation, \b(a|an|the)\b → " ", collapse whitespace.
    [Theory]
    [InlineData("The Cat!", "cat")]
    [InlineData("an apple a day", "apple day")]
    [InlineData("  Hello,   World.\t\n", "hello world")]
    [InlineData("Theatre, then", "theatre then")]        // articles only as whole words
    [InlineData("A", "")]
    [InlineData("rock-n-roll's", "rocknrolls")]            // punctuation deleted, not replaced by a space
    [InlineData("“the” answer", "“ ” answer")]             // non-ASCII quotes stay; the article between them still goes
    [InlineData("$3.50 (approx.)", "350 approx")]
    public void Normalizes_as_squad(string text, string normalized) =>
        Assert.Equal(normalized, AnswerMatch.NormalizeText(text));

    [Fact]
    public void Bag_of_tokens_f1_with_counter_intersection()
    {
        // [cat, sat] vs [cat, sat, down]: P = 1, R = 2/3, F1 = 0.8.
        Assert.Equal(0.8, TokenF1.Score("the cat sat", "A cat sat down."), 12);
        // Repeats count once per occurrence in the reference: common = min(3, 1) = 1; P = 1/3, R = 1, F1 = 0.5.
        Assert.Equal(0.5, TokenF1.Score("cat cat cat", "cat"), 12);
        // Order does not matter.
        Assert.Equal(1.0, TokenF1.Score("sat cat", "The cat sat."), 12);
        Assert.Equal(0.0, TokenF1.Score("dog", "cat"), 12);
        // 2 common of 4 predicted and 3 reference tokens: P = 1/2, R = 2/3, F1 = 4/7.
        Assert.Equal(4.0 / 7, TokenF1.Score("April 25 1999 maybe", "April 25 , 2018"), 12);
    }

    [Fact]
    public void Empty_sides_follow_squad_v2()
    {
        Assert.Equal(1.0, TokenF1.Score("", ""));
        Assert.Equal(1.0, TokenF1.Score("The.", "a"));   // both normalize to nothing
        Assert.Equal(0.0, TokenF1.Score("", "cat"));
        Assert.Equal(0.0, TokenF1.Score("cat", "!!"));
    }

    [Fact]
    public void Best_takes_the_maximum_over_references()
    {
        Assert.Equal(1.0, TokenF1.Best("Paris", ["London", "paris", "Rome"]), 12);
        Assert.Equal(0.8, TokenF1.Best("the cat sat", ["dog", "a cat sat down"]), 12);
        Assert.Equal(0.0, TokenF1.Best("anything", []));
    }
}
