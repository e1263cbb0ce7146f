using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>The lm-evaluation-harness input rules: whitespace move, whole-text split, BOS, left truncation.</summary>
public class ScoringWindowTests
{
    [Theory]
    [InlineData("Question: 2+2?\nAnswer: ", "4", "Question: 2+2?\nAnswer:", " 4")]
    [InlineData("Answer:", " 4", "Answer:", " 4")]
    [InlineData("A \n\t", "b", "A", " \n\tb")]
    [InlineData("   ", "x", "", "   x")]
    public void Trailing_whitespace_moves_to_the_continuation(string context, string continuation, string expectedContext, string expectedContinuation)
    {
        Assert.Equal((expectedContext, expectedContinuation), ScoringWindow.MoveTrailingWhitespace(context, continuation));
    }

    [Fact]
    public void Continuation_tokens_are_the_whole_texts_tokens_past_the_contexts_count()
    {
        // A toy tokenizer that merges "ab" into one token: the whole text's tokens, not the continuation's own, are scored.
        int[] Tok(string s)
        {
            var ids = new List<int>();
            for (int i = 0; i < s.Length; i++)
            {
                if (i + 1 < s.Length && s[i] == 'a' && s[i + 1] == 'b') { ids.Add(1000); i++; }
                else ids.Add(s[i]);
            }
            return [.. ids];
        }
        var (ctx, cont) = ScoringWindow.Split(Tok, "xxa", "bc");
        Assert.Equal(Tok("xxa"), ctx);
        // whole = x x ab c; the context's count is 3, so the continuation is [c] only: lm-eval's rule, not Tok("bc").
        Assert.Equal(['c'], cont);
        Assert.Throws<ArgumentException>(() => ScoringWindow.Split(Tok, "x", ""));
    }

    [Fact]
    public void Window_prepends_bos_and_keeps_the_last_tokens_when_too_long()
    {
        var w = ScoringWindow.Build(1, [10, 11, 12], [20, 21], 16);
        Assert.Equal([1, 10, 11, 12, 20, 21], w.Tokens);
        Assert.Equal(2, w.ContinuationTokens);
        Assert.Equal(4, w.ContextTokens);

        var cut = ScoringWindow.Build(1, [10, 11, 12, 13, 14], [20, 21], 4);
        Assert.Equal([13, 14, 20, 21], cut.Tokens);
        Assert.Equal(2, cut.ContextTokens);

        var noBos = ScoringWindow.Build(-1, [10], [20], 8);
        Assert.Equal([10, 20], noBos.Tokens);
        Assert.Throws<ArgumentException>(() => ScoringWindow.Build(-1, [], [20], 8));
        Assert.Throws<ArgumentException>(() => ScoringWindow.Build(1, [10], [20, 21, 22, 23], 4));
    }
}
