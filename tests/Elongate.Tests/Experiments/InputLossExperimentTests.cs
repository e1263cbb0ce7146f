using Elongate.Data;
using Elongate.Evaluation.Tasks;
using Elongate.Experiments;

namespace Elongate.Tests.Experiments;

/// <summary>The input-loss experiment's pieces with known answers: reading a reply's value, the intervals, the verdict, the documents.</summary>
public sealed class InputLossExperimentTests
{
    [Fact]
    public void The_value_is_the_word_after_is_else_the_first_word()
    {
        Assert.Equal("star", InputLossExperiment.ValueOf("The password of the crooked owl is star."));
        Assert.Equal("moon", InputLossExperiment.ValueOf("Moon, I think"));
        Assert.Equal("", InputLossExperiment.ValueOf(""));
    }

    [Fact]
    public void Mean_interval_is_the_bootstrap_percentile_interval_of_the_mean()
    {
        Assert.Equal((1.0, 1.0), InputLossExperiment.MeanInterval([1, 1, 1, 1]));
        var scores = Enumerable.Range(0, 60).Select(i => i % 4 == 0 ? 1.0 : 0.0).ToArray(); // mean 0.25
        var (lo, hi) = InputLossExperiment.MeanInterval(scores);
        // Normal approximation: 0.25 ± 1.96·sqrt(0.25·0.75/60) = [0.140, 0.360]; the bootstrap lands within a question of it.
        Assert.InRange(lo, 0.14 - 1.0 / 60, 0.14 + 1.0 / 60);
        Assert.InRange(hi, 0.36 - 1.0 / 60, 0.36 + 1.0 / 60);
    }

    private static InputLossModel M(string name, double score, double lower, double upper) =>
        new(name, name, null, null, null, null, null, 0, 0, score, lower, upper, score, lower, upper, 0, [], [], [], [], 0, 0);

    [Fact]
    public void Verdict_needs_a_model_above_chance_then_follows_the_interval_of_the_difference()
    {
        TaskComparisonRow Row(double d, double lo, double hi) => new("password_qa", 60, 0, 0, d, lo, hi, 0.01, 0, 0);
        var skilled = new[] { M("base", 0, 0, 0), M("answers", 0.4, 0.3, 0.5), M("answers+input", 0.6, 0.5, 0.7) };
        Assert.Contains("**yes**", InputLossExperiment.Conclude(skilled, Row(0.2, 0.1, 0.3), Row(0.2, 0.1, 0.3)));
        Assert.Contains("**no, the opposite**", InputLossExperiment.Conclude(skilled, Row(-0.2, -0.3, -0.1), Row(0, 0, 0)));
        Assert.Contains("**not shown** — the interval of the difference includes 0.", InputLossExperiment.Conclude(skilled, Row(0.05, -0.05, 0.15), Row(0, 0, 0)));
        // A significant difference between models that do not retrieve is not evidence either way.
        var chance = new[] { M("base", 0, 0, 0), M("answers", 0.05, 0, 0.12), M("answers+input", 0.2, 0.06, 0.3) };
        var none = InputLossExperiment.Conclude(chance, Row(-0.1, -0.18, -0.03), Row(0, 0, 0));
        Assert.Contains("no long-QA skill", none);
        Assert.Contains("not above the 1-in-16 chance", none);
    }

    [Fact]
    public void A_document_plants_the_fact_between_whole_sentences_within_the_target()
    {
        var text = string.Join(" ", Enumerable.Range(0, 60).Select(i => $"Sentence number {i} says little."));
        var sentences = PasswordFacts.Sentences(text + " The password was never said.");
        Assert.Equal(60, sentences.Count); // the sentence naming a password is left out
        var dir = Directory.CreateTempSubdirectory("elongate-facts").FullName;
        var tok = Elongate.Formats.TokenizerLoader.Load(Elongate.Tests.Training.TrainingTestData.WriteTokenizer(dir));
        var rng = new SplitMix64(3);
        var fact = PasswordTeacher.Fact("crooked owl", "star");
        var (doc, factToken, tokens) = PasswordFacts.Document(sentences, tok, 200, fact, ref rng);
        Assert.Contains(fact, doc);
        Assert.True(tokens <= 200, $"{tokens} tokens");
        Assert.Equal(doc.IndexOf(fact, StringComparison.Ordinal) == 0 ? 0 : tok.Encode(doc[..(doc.IndexOf(fact, StringComparison.Ordinal) - 1)], false, false).Length, factToken);
        Assert.Throws<ArgumentException>(() => PasswordFacts.Document(sentences, tok, tok.Encode(fact, false, false).Length + 5, fact, ref rng));
        Directory.Delete(dir, true);
    }

    /// <summary>
    /// The answer budget holds the longest restated fact, and a document of the longest allowed size with the longest
    /// question still fits the long length through the chat template with that budget — so the harness cuts nothing.
    /// </summary>
    [Fact]
    public void Answer_budget_and_document_size_leave_every_prompt_uncut()
    {
        var dir = Directory.CreateTempSubdirectory("elongate-budget").FullName;
        try
        {
            var tok = Elongate.Formats.TokenizerLoader.Load(Elongate.Tests.Training.TrainingTestData.WriteTokenizer(dir));
            var template = Elongate.Tokenization.ChatTemplate.FromName("chatml");
            int budget = InputLossExperiment.AnswerBudget(tok, template);
            int longestFact = PasswordFacts.Adjectives.SelectMany(a => PasswordFacts.Nouns.Select(n => PasswordTeacher.Fact(a + " " + n, "moon")))
                .Max(f => tok.Encode(f, false, false).Length);
            int marker = tok.Encode("<|im_end|>", false, false).Length;
            Assert.True(budget >= longestFact + marker + 4, $"budget {budget}, longest fact {longestFact}, end marker {marker}");
            var o = new InputLossOptions { OutputDirectory = dir, ShortLength = 64 };
            int longest = InputLossExperiment.LongestDocument(o, tok, template, budget);
            Assert.InRange(longest, 48, o.DocumentTokens.Max);
            var text = string.Join(" ", Enumerable.Range(0, 400).Select(i => $"Sentence number {i} says little."));
            var rng = new SplitMix64(5);
            var (doc, _, tokens) = PasswordFacts.Document(PasswordFacts.Sentences(text), tok, longest, PasswordTeacher.Fact("ancient captain", "cake"), ref rng);
            Assert.True(tokens <= longest);
            foreach (var key in new[] { "ancient captain", "red fox", "crooked lantern" })
            {
                var prompt = Elongate.Tokenization.PromptEncoding.EncodeChat(tok, template, [new Elongate.Tokenization.ChatTurn("user", doc + "\n\n" + PasswordTeacher.Question(key))]);
                Assert.True(prompt.Length + budget <= o.LongLength, $"{prompt.Length} prompt tokens + {budget} > {o.LongLength}");
            }
            Assert.Contains("max_new_tokens = " + budget, InputLossExperiment.PromptTemplate(budget));
        }
        finally { Directory.Delete(dir, true); }
    }
}
