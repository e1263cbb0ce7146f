using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation;

/// <summary>L-Eval's exam questions (options inline in the instruction) as log-likelihood multiple choice, on the fixture files.</summary>
public sealed class LEvalMultipleChoiceTests
{
    private static string Leval(string name) => Fixtures.Path($"benchmarks/leval/closed-ended/{name}.jsonl");

    [Fact]
    public void Options_are_split_from_a_real_tpo_instruction()
    {
        const string instruction = "why did frantzen go to the sales barn\nA. to study human form and movement\nB. to earn money by painting portraits\nC. to paint farm animals in an outdoor setting\nD. to meet people who could model for her paining";
        var split = LEvalMultipleChoice.SplitOptions(instruction)!.Value;
        Assert.Equal("why did frantzen go to the sales barn", split.Question);
        Assert.Equal(new[] { "to study human form and movement", "to earn money by painting portraits", "to paint farm animals in an outdoor setting", "to meet people who could model for her paining" }, split.Options);

        Assert.Null(LEvalMultipleChoice.SplitOptions("Is the statement true? Answer True or False."));
        // A question line that itself starts "A." is not mistaken for the options.
        var tricky = LEvalMultipleChoice.SplitOptions("A. Lincoln said what?\nA. yes\nB. no")!.Value;
        Assert.Equal("A. Lincoln said what?", tricky.Question);
        Assert.Equal(new[] { "yes", "no" }, tricky.Options);
    }

    [Theory]
    [InlineData("C", 4, new[] { 2 })]
    [InlineData("AC", 4, new[] { 0, 2 })]
    [InlineData("b, d", 4, new[] { 1, 3 })]
    [InlineData("E", 4, null)]
    [InlineData("AA", 4, null)]
    [InlineData("True", 4, null)]
    [InlineData("", 4, null)]
    public void References_are_sets_of_option_letters(string reference, int options, int[]? expected) =>
        Assert.Equal(expected, LEvalMultipleChoice.ParseReference(reference, options));

    [Fact]
    public void Every_tpo_question_becomes_a_letter_item_after_its_document()
    {
        var file = LEvalMultipleChoice.Read(Leval("tpo"));
        Assert.Empty(file.Skipped);
        Assert.Equal(269, file.Items.Count);   // every question of the fixture (15 lectures)
        var first = file.Items[0];
        Assert.Equal("1.1", first.Id);
        Assert.NotNull(first.Document);
        Assert.True(first.Document!.Length > 10_000);
        Assert.Equal("\n\nwhy did frantzen go to the sales barn\nA. to study human form and movement\nB. to earn money by painting portraits\n" +
                     "C. to paint farm animals in an outdoor setting\nD. to meet people who could model for her paining\nAnswer:", first.Context);
        Assert.Equal(new[] { " A", " B", " C", " D" }, first.Continuations);
        Assert.Equal(new[] { 0 }, first.Gold);   // reference "A"

        var texts = LEvalMultipleChoice.Read(Leval("tpo"), LEvalChoiceStyle.OptionTexts).Items[0];
        Assert.Equal("\n\nwhy did frantzen go to the sales barn\nAnswer:", texts.Context);
        Assert.Equal(" to study human form and movement", texts.Continuations[0]);
    }

    [Fact]
    public void Coursera_questions_with_several_correct_letters_are_scored_any_gold_or_skipped_by_policy()
    {
        var all = LEvalMultipleChoice.Read(Leval("coursera"));
        Assert.Empty(all.Skipped);
        Assert.Equal(172, all.Items.Count);
        var multi = all.Items.Where(i => i.Gold.Count > 1).ToArray();
        Assert.Equal(85, multi.Length);   // "AC", "ABD", … in the fixture
        var q2 = all.Items.Single(i => i.Id == "2.2");   // reference "AC"
        Assert.Equal(new[] { 0, 2 }, q2.Gold);
        Assert.StartsWith("\n\nQuestion 2. Suppose you have a deep learning model with 5 million parameters.", q2.Context);

        var single = LEvalMultipleChoice.Read(Leval("coursera"), multiAnswer: LEvalMultiAnswer.Skip);
        Assert.Equal(87, single.Items.Count);
        Assert.Equal(85, single.Skipped.Count);
        Assert.All(single.Items, i => Assert.Single(i.Gold));
        Assert.Contains(single.Skipped, s => s.Id == "2.2" && s.Reason.Contains("2 correct letters"));
    }

    [Fact]
    public void The_generic_reader_points_an_L_Eval_file_to_the_L_Eval_reader()
    {
        var e = Assert.Throws<MultipleChoiceDataException>(() => MultipleChoiceReader.Read(Leval("tpo")));
        Assert.Equal(1, e.LineNumber);
        Assert.Contains("LEvalMultipleChoice", e.Message);
    }

    [Fact]
    public void Questions_without_lettered_options_are_skipped_and_counted()
    {
        var file = LEvalMultipleChoice.Read(Leval("sci_fi"));
        Assert.Empty(file.Items);
        Assert.NotEmpty(file.Skipped);
        Assert.All(file.Skipped, s => Assert.Contains("no lettered options", s.Reason));
    }

    [Fact]
    public async Task A_model_that_knows_the_answers_scores_all_of_tpo_and_a_letter_constant_scores_its_share()
    {
        var items = LEvalMultipleChoice.Read(Leval("tpo")).Items;
        var gold = items.ToDictionary(i => i.FullContext, i => " " + MultipleChoiceMetrics.Letter(i.Gold[0]));
        using var oracle = new MultipleChoiceFakeModel((context, c) => gold[context] == c ? -0.1 : -3);
        var result = await new MultipleChoiceEvaluator(oracle).EvaluateAsync("tpo", items);
        Assert.Equal(1.0, result.Report.Acc);
        Assert.Equal(0, result.Report.Truncated);

        // Always " C": accuracy is the share of C answers in the fixture (81 of 269).
        using var constant = MultipleChoiceFakeModel.Preferring(" C");
        var c = await new MultipleChoiceEvaluator(constant).EvaluateAsync("tpo", items);
        Assert.Equal(81.0 / 269, c.Report.Acc!.Value, 12);
    }

    [Fact]
    public async Task A_tpo_document_longer_than_the_context_is_cut_and_counted()
    {
        var item = LEvalMultipleChoice.Read(Leval("tpo")).Items[0];
        using var model = MultipleChoiceFakeModel.Preferring(" A");
        var record = await new MultipleChoiceEvaluator(model, maxContextTokens: 2048).ScoreAsync(item);
        Assert.True(record.Truncated);
        var context = Assert.Single(model.Calls).Context;
        Assert.True(context.Length + 2 + 1 <= 2048);
        Assert.StartsWith(item.Document![..100], context);
        Assert.EndsWith(item.Document[^50..] + item.Context, context);   // the document's end, then the whole question
    }
}
