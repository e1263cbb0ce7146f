using Elongate.Evaluation;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Tests.Evaluation;

/// <summary>The scorers and prompt builders of the eval commands, against hand-computed cases.</summary>
public sealed class EvalTaskTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-evaltask");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void Answer_match_normalizes_like_squad_and_counts_answer_words_present()
    {
        Assert.Equal(new[] { "best", "thing", "to", "do" }, AnswerMatch.Normalize("The Best thing, to do!"));
        // Punctuation is deleted, not replaced by a space (SQuAD's remove_punc): "don't" → "dont".
        Assert.Equal(new[] { "dont", "stop", "3", "50" }, AnswerMatch.Normalize("Don't stop: $3 50."));
        // Expected → eat sandwich and sit in dolores park on sunny day (10 words); the generation holds
        // eat, sandwich, in, dolores, park → 5/10.
        Assert.Equal(0.5, AnswerMatch.Score(NeedleOptions.DefaultAnswer, "The best thing is to eat a sandwich in Dolores Park."), 12);
        Assert.Equal(1.0, AnswerMatch.Score(NeedleOptions.DefaultAnswer, "eat a sandwich and sit in dolores park on a sunny day"), 12);
        // Repeated answer words count each time: "new york new york" vs "new" → 2/4.
        Assert.Equal(0.5, AnswerMatch.Score("New York, New York", "new"), 12);
        Assert.Equal(1.0, AnswerMatch.Score("don't stop", "DONT STOP!!"), 12);
        Assert.Equal(0.0, AnswerMatch.Score("the a an", "anything"), 12);
        Assert.Equal(0.0, AnswerMatch.Score("Dolores Park", ""), 12);
    }

    [Theory]
    [InlineData("  Hello there. How are you?", "Hello there.")]
    [InlineData("He paid $3.50 for it! Then left.", "He paid $3.50 for it!")]
    [InlineData("\"Stop!\" she said. Then more.", "\"Stop!\" she said.")]
    [InlineData("Is it?\nYes.", "Is it?")]
    [InlineData("Ends here.", "Ends here.")]
    [InlineData("Mr. Smith came.", "Mr.")]
    [InlineData("No terminator here", null)]
    [InlineData("e.g.x", null)]
    public void First_sentence_ends_at_the_first_terminator_followed_by_whitespace(string text, string? expected) =>
        Assert.Equal(expected, FirstSentence.Extract(text));

    [Fact]
    public void Sentence_starts_and_boundaries_are_where_the_rule_says()
    {
        // "A b. C d!  E f? g": A0 b2 .3 C5 d7 !8 E11 f13 ?14 g16
        Assert.Equal(new[] { 0, 5, 11, 16 }, FirstSentence.SentenceStarts("A b. C d!  E f? g"));
        Assert.Equal(new[] { 2 }, FirstSentence.SentenceStarts("  x"));
        Assert.Equal(new[] { 0, 4, 9, 14 }, FirstSentence.Boundaries("A b. C d. E f."));
        Assert.Equal(new[] { 0, 8 }, FirstSentence.Boundaries("no stops"));
    }

    [Fact]
    public void Needle_goes_to_the_sentence_boundary_nearest_the_depth()
    {
        const string hay = "A b. C d. E f.";   // boundaries 0, 4, 9, 14
        Assert.Equal("N. A b. C d. E f.", NeedleEvaluation.Insert(hay, "N.", 0));
        Assert.Equal("A b. C d. E f. N.", NeedleEvaluation.Insert(hay, "N.", 1));
        Assert.Equal("A b. C d. N. E f.", NeedleEvaluation.Insert(hay, "N.", 0.5));   // 0.5·14 = 7 → 9 (2 away) beats 4 (3 away)
        Assert.Equal("A b. N. C d. E f.", NeedleEvaluation.Insert(hay, "N.", 0.3));   // 4.2 → 4
        Assert.Equal("N.", NeedleEvaluation.Insert("", "N.", 0.5));
        Assert.Equal("H\n\nQuestion: Q?\nAnswer:", NeedleEvaluation.BuildPrompt("H", "Q?"));
    }

    [Fact]
    public void Prompt_fitting_finds_the_largest_count_that_fits()
    {
        int calls = 0;
        int Count(int n) { calls++; return 10 + 3 * n; }
        Assert.Equal((5, 25), PromptFitting.Largest(Count, 25, 0, 100));
        Assert.Equal((5, 25), PromptFitting.Largest(Count, 27, 0, 100));   // 6 would need 28
        Assert.Equal((100, 310), PromptFitting.Largest(Count, 1000, 0, 100));
        Assert.Null(PromptFitting.Largest(Count, 9, 0, 100));
        calls = 0;
        Assert.Equal((5, 25), PromptFitting.LargestUnbounded(Count, 26));
        Assert.True(calls <= 12, $"{calls} token counts for a target of 26");
        Assert.Equal((0, 10), PromptFitting.LargestUnbounded(Count, 12));
        Assert.Null(PromptFitting.LargestUnbounded(Count, 9));
        Assert.Equal((4, 8), PromptFitting.LargestUnbounded(n => 2 * n, 8));
    }

    [Fact]
    public void Passkey_keys_are_seeded_and_have_the_digits_asked_for()
    {
        var a = PasskeyEvaluation.Keys(42, 50, 5);
        Assert.Equal(a, PasskeyEvaluation.Keys(42, 50, 5));
        Assert.NotEqual(a, PasskeyEvaluation.Keys(43, 50, 5));
        Assert.All(a, k => Assert.InRange(k, 10000, 99999));
        Assert.True(a.Distinct().Count() > 45);
        Assert.All(PasskeyEvaluation.Keys(1, 50, 1), k => Assert.InRange(k, 0, 9));
    }

    private static ITokenizer Tok512() => TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512);

    [SkippableFact]
    public void Passkey_prompt_is_the_longest_that_fits_the_tokenized_length()
    {
        var tok = Tok512();
        foreach (var (length, depth) in new[] { (256, 0.0), (300, 0.5), (512, 1.0) })
        {
            var (ids, repeats) = PasskeyEvaluation.FitPrompt(tok, 12345, depth, length);
            Assert.True(ids.Length <= length, $"{ids.Length} > {length}");
            Assert.Equal(tok.Encode(PasskeyProbe.BuildPrompt(12345, repeats, depth), true, false), ids);
            Assert.True(tok.Encode(PasskeyProbe.BuildPrompt(12345, repeats + 1, depth), true, false).Length > length);
            Assert.Equal(1, ids[0]);   // BOS
            Assert.Contains("The pass key is 12345. Remember it. 12345 is the pass key.", tok.Decode(ids));
            Assert.EndsWith(PasskeyProbe.Question, tok.Decode(ids));
        }
        var e = Assert.Throws<ArgumentException>(() => PasskeyEvaluation.FitPrompt(tok, 12345, 0.5, 64));
        Assert.Contains("shorter than the prompt without filler", e.Message);
    }

    [SkippableFact]
    public void Passkey_key_distance_counts_the_needle_the_filler_after_it_and_the_question()
    {
        var tok = Tok512();
        int Tokens(string s) => tok.Encode(s, addBos: false, addEos: false).Length;
        int tail = Tokens(PasskeyProbe.Needle(12345) + " " + PasskeyProbe.Question), block = Tokens(PasskeyProbe.Filler);
        foreach (int length in new[] { 256, 512, 1024 })
        {
            int repeats = PasskeyEvaluation.FitPrompt(tok, 12345, 1.0, length).Repeats;
            // Depth 1 puts every block before the needle; depth 0 puts them all between needle and question.
            Assert.InRange(PasskeyEvaluation.KeyDistance(tok, 12345, 1.0, length), tail - 1, tail + 1);
            Assert.InRange(PasskeyEvaluation.KeyDistance(tok, 12345, 0.0, length), tail + repeats * block - repeats - 1, tail + repeats * (block + 1) + 1);
        }
        // At 256 tokens tok512 fits two blocks: depth 0.25 rounds to none before the needle, depth 0.75 to both.
        Assert.Equal(2, PasskeyEvaluation.FitPrompt(tok, 12345, 0.25, 256).Repeats);
        Assert.Equal(PasskeyEvaluation.KeyDistance(tok, 12345, 0.0, 256), PasskeyEvaluation.KeyDistance(tok, 12345, 0.25, 256));
        Assert.Equal(PasskeyEvaluation.KeyDistance(tok, 12345, 1.0, 256), PasskeyEvaluation.KeyDistance(tok, 12345, 0.75, 256));
    }

    [SkippableFact]
    public void Needle_and_first_sentence_prompts_fill_the_length_and_keep_their_parts()
    {
        var tok = Tok512();
        var text = string.Concat(Enumerable.Repeat("Once upon a time, there was a little girl named Lily. She loved to play outside. ", 40));
        var hay = EvalCorpus.EncodePrefix(text, tok, 600).Ids;
        Assert.Equal(600, hay.Length);
        var options = new NeedleOptions();
        foreach (int length in new[] { 128, 200, 512 })
        {
            var ids = NeedleEvaluation.FitPrompt(tok, hay, options, 0.5, length);
            Assert.InRange(ids.Length, length - 8, length);
            var s = tok.Decode(ids);
            Assert.Contains(options.Needle, s);
            Assert.EndsWith("\n\nQuestion: " + options.Question + "\nAnswer:", s);

            var fs = FirstSentenceEvaluation.FitPrompt(tok, hay, length);
            Assert.InRange(fs.Length, length - 8, length);
            var f = tok.Decode(fs);
            Assert.StartsWith("Once upon a time, there was a little girl named Lily.", f);
            Assert.EndsWith(FirstSentenceEvaluation.Instruction, f);
        }
    }

    [Fact]
    public void Corpus_reads_text_jsonl_folders_and_rejects_bad_lines()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_dir.FullName, "docs")).FullName;
        File.WriteAllText(Path.Combine(folder, "b.txt"), "second");
        File.WriteAllText(Path.Combine(folder, "a.jsonl"), "{\"text\": \"first\"}\n\n{\"text\": \"also first\", \"id\": 3}\n{\"text\": \"  \"}\n");
        File.WriteAllText(Path.Combine(folder, "ignored.md"), "not a document");
        using (var c = EvalCorpus.Open(folder))
        {
            Assert.Equal(3, c.Count);
            Assert.False(c.IsTokenized);
        }
        var bad = Path.Combine(_dir.FullName, "bad.jsonl");
        File.WriteAllText(bad, "{\"text\": \"ok\"}\n{\"body\": \"no text\"}\n");
        var e = Assert.Throws<ModelFormatException>(() => EvalCorpus.Open(bad));
        Assert.Contains("line 2", e.Message);
        File.WriteAllText(bad, "{\"text\": \"ok\"}\nnot json\n");
        Assert.Contains("line 2", Assert.Throws<ModelFormatException>(() => EvalCorpus.Open(bad)).Message);
        var empty = Path.Combine(_dir.FullName, "empty.txt");
        File.WriteAllText(empty, "  \n");
        Assert.Throws<ModelFormatException>(() => EvalCorpus.Open(empty));
        Assert.Throws<FileNotFoundException>(() => EvalCorpus.Open(Path.Combine(_dir.FullName, "missing.txt")));
    }

    [SkippableFact]
    public void Corpus_reads_a_token_shard_as_stored_and_decodes_it_for_text_tasks()
    {
        var tok = Tok512();
        var shard = Path.Combine(_dir.FullName, "held.bin");   // recognised by magic, not extension
        var doc = tok.Encode("Lily saw a big red ball.", addBos: true, addEos: false);
        using (var w = new Elongate.Data.TokenShardWriter(shard, 512))
        {
            w.Add(doc);
            w.Add([]);
            w.Add(doc);
            w.Complete();
        }
        using var c = EvalCorpus.Open(shard);
        Assert.True(c.IsTokenized);
        Assert.Equal(2, c.Count);
        Assert.Equal(doc, c.Tokens(1, tok));
        Assert.Equal(doc[..3], c.Tokens(0, tok, 3));
        Assert.Equal("Lily saw a big red ball.", c.Text(0, tok));
        Assert.Equal(2, c.TokenDocuments(tok).Count);
        Assert.Single(c.TokenDocuments(tok, totalTokens: 5));
    }
}
