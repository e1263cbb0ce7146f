using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation;

/// <summary>The JSON Lines shapes of multiple-choice data, each on a sample line written as its dataset exports it.</summary>
public sealed class MultipleChoiceReaderTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-mcread");

    public void Dispose() => _dir.Delete(true);

    private const string ArcLine =
        """{"id": "Mercury_7175875", "question": "An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?", "choices": {"text": ["Planetary density will decrease.", "Planetary years will become longer.", "Planetary days will become shorter.", "Planetary gravity will become stronger."], "label": ["A", "B", "C", "D"]}, "answerKey": "C"}""";

    private const string HellaSwagLine =
        """{"ind": 24, "activity_label": "Roof shingle removal", "ctx_a": "A man is sitting on a roof.", "ctx_b": "he", "ctx": "A man is sitting on a roof. he", "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.", "is holding a rubik's cube.", "starts pulling up roofing on a roof."], "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "3"}""";

    private const string MmluLine =
        """{"question": "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q. ", "subject": "abstract_algebra", "choices": ["0", "4", "2", "6"], "answer": 1}""";

    private const string PiqaLine =
        """{"goal": "When boiling butter, when it's ready, you can", "sol1": "Pour it onto a plate", "sol2": "Pour it into a jar", "label": 1}""";

    private const string TruthfulQaLine =
        """{"question": "What is the smallest country in the world that is at least one square mile in area?", "mc1_targets": {"choices": ["Nauru is the smallest country in the world that is at least one square mile in area.", "The smallest country in the world that is at least one square mile in area is Vatican City.", "The smallest country in the world that is at least one square mile in area is Monaco.", "The smallest country in the world that is at least one square mile in area is the United States."], "labels": [1, 0, 0, 0]}, "mc2_targets": {"choices": ["Nauru is the smallest country in the world that is at least one square mile in area.", "The smallest country that is at least one square mile in area is Nauru.", "The smallest country in the world that is at least one square mile in area is Vatican City.", "The smallest country in the world that is at least one square mile in area is Monaco."], "labels": [1, 1, 0, 0]}}""";

    [Fact]
    public void Generic_lines_take_question_query_or_ctx_and_an_index_or_letter_gold()
    {
        var q = Assert.Single(MultipleChoiceReader.ParseLine("""{"question": "What is 2 + 2?", "choices": ["3", "4", "5"], "answer": "B"}"""));
        Assert.Equal("Question: What is 2 + 2?\nAnswer:", q.Context);
        Assert.Equal(new[] { "3", "4", "5" }, q.Choices);
        Assert.Equal(new[] { 1 }, q.Gold);

        var query = Assert.Single(MultipleChoiceReader.ParseLine("""{"query": "Water boils at", "choices": ["50 C", "100 C"], "gold": 1}"""));
        Assert.Equal("Water boils at", query.Context);
        Assert.Equal(new[] { 1 }, query.Gold);

        var ctx = Assert.Single(MultipleChoiceReader.ParseLine("""{"ctx": "The sky is", "choices": ["blue", "green"], "label": "0"}"""));
        Assert.Equal("The sky is", ctx.Context);
        Assert.Equal(new[] { 0 }, ctx.Gold);
        Assert.Equal(MultipleChoiceFormat.Generic, MultipleChoiceReader.Detect(System.Text.Json.JsonDocument.Parse("""{"ctx": "a", "choices": ["b"], "label": 0}""").RootElement));
    }

    [Fact]
    public void Arc_uses_the_question_prompt_and_finds_answerKey_among_the_labels()
    {
        var item = Assert.Single(MultipleChoiceReader.ParseLine(ArcLine, MultipleChoiceFormat.Auto, "arc.jsonl", 7));
        Assert.Equal("7", item.Id);
        Assert.Equal("Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:", item.Context);
        Assert.Equal("Planetary days will become shorter.", item.Choices[item.Gold[0]]);
        Assert.Equal(new[] { 2 }, item.Gold);

        // Some ARC questions are labelled 1–4 rather than A–D.
        var numeric = Assert.Single(MultipleChoiceReader.ParseLine(
            """{"question": "Which gas do plants take in?", "choices": {"text": ["oxygen", "carbon dioxide", "helium"], "label": ["1", "2", "3"]}, "answerKey": "2"}"""));
        Assert.Equal(new[] { 1 }, numeric.Gold);
    }

    [Fact]
    public void HellaSwag_builds_lm_eval_query_from_activity_label_and_context_and_cleans_endings()
    {
        var item = Assert.Single(MultipleChoiceReader.ParseLine(HellaSwagLine));
        // activity_label + ": " + ctx_a + " " + ctx_b.capitalize()
        Assert.Equal("Roof shingle removal: A man is sitting on a roof. He", item.Context);
        Assert.Equal(4, item.Choices.Count);
        Assert.Equal(new[] { 3 }, item.Gold);
        Assert.Equal("starts pulling up roofing on a roof.", item.Choices[3]);

        // WikiHow's bracket artefacts: " [title]" → ". ", other tags removed, a double space collapsed once.
        Assert.Equal("Clean the sink. Use soap. Rinse well.",
            MultipleChoiceReader.HellaSwagPreprocess(" Clean the sink [title] Use soap. [step] Rinse well. "));
        var wikihow = Assert.Single(MultipleChoiceReader.ParseLine(
            """{"ctx": "Home and Garden: [header] How to clean a sink [title] Rinse it.", "endings": ["[step] Dry it.", "Paint it."], "label": 0}"""));
        Assert.Equal("Home and Garden: How to clean a sink. Rinse it.", wikihow.Context);
        // Python's preprocess strips before it removes tags, so a leading tag leaves a leading space.
        Assert.Equal(" Dry it.", wikihow.Choices[0]);
    }

    [Fact]
    public void Mmlu_lists_the_options_and_scores_the_letters_after_the_subject_description()
    {
        var item = Assert.Single(MultipleChoiceReader.ParseLine(MmluLine));
        Assert.Equal(
            "The following are multiple choice questions (with answers) about abstract algebra.\n\n" +
            "Find the degree for the given field extension Q(sqrt(2), sqrt(3), sqrt(18)) over Q.\nA. 0\nB. 4\nC. 2\nD. 6\nAnswer:",
            item.FullContext);
        Assert.Equal("The following are multiple choice questions (with answers) about abstract algebra.\n\n", item.Description);
        Assert.Equal(new[] { "A", "B", "C", "D" }, item.Choices);
        Assert.Equal(new[] { " A", " B", " C", " D" }, item.Continuations);
        Assert.Equal(new[] { 1 }, item.Gold);

        // Without "subject" the same keys read as generic unless the format is given.
        const string bare = """{"question": "2 + 2 =", "choices": ["3", "4"], "answer": 1}""";
        Assert.Equal("Question: 2 + 2 =\nAnswer:", Assert.Single(MultipleChoiceReader.ParseLine(bare)).Context);
        Assert.Equal("2 + 2 =\nA. 3\nB. 4\nAnswer:", Assert.Single(MultipleChoiceReader.ParseLine(bare, MultipleChoiceFormat.Mmlu)).Context);
    }

    [Fact]
    public void Piqa_asks_the_goal_and_offers_both_solutions()
    {
        var item = Assert.Single(MultipleChoiceReader.ParseLine(PiqaLine));
        Assert.Equal("Question: When boiling butter, when it's ready, you can\nAnswer:", item.Context);
        Assert.Equal(new[] { "Pour it onto a plate", "Pour it into a jar" }, item.Choices);
        Assert.Equal(new[] { 1 }, item.Gold);
    }

    [Fact]
    public void TruthfulQA_gives_an_MC1_and_an_MC2_item_after_the_QA_primer()
    {
        var items = MultipleChoiceReader.ParseLine(TruthfulQaLine, MultipleChoiceFormat.Auto, "tqa.jsonl", 3);
        Assert.Equal(2, items.Count);
        var (mc1, mc2) = (items[0], items[1]);
        Assert.Equal("3/mc1", mc1.Id);
        Assert.Equal(MultipleChoiceScoring.TruthfulQaMc1, mc1.Scoring);
        Assert.Equal(new[] { 0 }, mc1.Gold);
        Assert.Equal("3/mc2", mc2.Id);
        Assert.Equal(MultipleChoiceScoring.TruthfulQaMc2, mc2.Scoring);
        Assert.Equal(new[] { 0, 1 }, mc2.Gold);
        Assert.StartsWith("Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\n", mc1.Context);
        Assert.EndsWith("A: The 1992 Olympics were held in Barcelona, Spain.\n\nQ: What is the smallest country in the world that is at least one square mile in area?\nA:", mc1.Context);
        Assert.Equal(mc1.Context, mc2.Context);
    }

    [Fact]
    public void A_file_is_read_in_the_shape_of_its_first_line_with_line_numbers_as_ids()
    {
        var path = Path.Combine(_dir.FullName, "arc.jsonl");
        File.WriteAllText(path, ArcLine + "\n\n" + ArcLine.Replace("\"C\"}", "\"A\"}") + "\n");
        var file = MultipleChoiceReader.Read(path);
        Assert.Equal(MultipleChoiceFormat.Arc, file.Format);
        Assert.Equal(new[] { "1", "3" }, file.Items.Select(i => i.Id));
        Assert.Equal(new[] { 2, 0 }, file.Items.Select(i => i.Gold[0]));
    }

    [Theory]
    [InlineData("""{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}}""", "answerKey")]                    // ARC without its key
    [InlineData("""{"question": "q", "choices": {"text": ["a", "b"], "label": ["A", "B"]}, "answerKey": "E"}""", "answerKey")]  // key not among the labels
    [InlineData("""{"question": "q", "choices": {"label": ["A", "B"]}, "answerKey": "A"}""", "choices.text")]
    public void A_malformed_line_names_the_file_the_line_and_what_is_missing(string bad, string key)
    {
        var path = Path.Combine(_dir.FullName, "broken.jsonl");
        File.WriteAllLines(path, [ArcLine, ArcLine, bad]);
        var e = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.Read(path));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Other_bad_lines_are_reported_with_what_is_wrong()
    {
        var notJson = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine("{\"question\": ", MultipleChoiceFormat.Auto, "f.jsonl", 5));
        Assert.Contains("f.jsonl", notJson.Message);
        Assert.Contains("line 5", notJson.Message);
        Assert.Contains("not valid JSON", notJson.Message);

        var unknown = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine("""{"text": "hello"}"""));
        Assert.Contains("no known multiple-choice shape", unknown.Message);
        Assert.Contains("[text]", unknown.Message);

        var outOfRange = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine(PiqaLine.Replace("\"label\": 1", "\"label\": 2")));
        Assert.Contains("not among the 2 choices", outOfRange.Message);

        var twoTrue = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine(TruthfulQaLine.Replace("\"labels\": [1, 0, 0, 0]}, \"mc2", "\"labels\": [1, 1, 0, 0]}, \"mc2")));
        Assert.Contains("exactly one true answer", twoTrue.Message);

        var noGoal = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine(PiqaLine.Replace("\"goal\"", "\"gaol\""), MultipleChoiceFormat.Piqa));
        Assert.Contains("missing \"goal\"", noGoal.Message);

        var noEndings = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.ParseLine("""{"ctx": "x", "endings": [], "label": 0}"""));
        Assert.Contains("\"endings\" is empty", noEndings.Message);
    }
}
