using System.Text.Json;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>
/// The `eval tasks` harness with scripted models: readers, prompt fitting, few-shot draws, the runner's scoring,
/// counting and resuming. Scores come from the real scorers (<see cref="TaskScoring"/>).
/// </summary>
public sealed class TaskHarnessTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-tasks");

    public void Dispose() => _dir.Delete(true);

    private static readonly string[] LEvalFiles =
    [
        "closed-ended/coursera", "closed-ended/gsm100", "closed-ended/sci_fi", "closed-ended/topic_retrieval_longchat", "closed-ended/tpo",
        "open-ended/financial_qa", "open-ended/gov_report_summ", "open-ended/legal_contract_qa", "open-ended/meeting_summ", "open-ended/multidoc_qa",
        "open-ended/natural_question", "open-ended/news_summ", "open-ended/paper_assistant", "open-ended/patent_summ", "open-ended/review_summ",
        "open-ended/scientific_qa", "open-ended/tv_show_summ",
    ];

    private static string LEval(string name) => Fixtures.Path($"benchmarks/leval/{name}.jsonl");

    private string Out(string name) => Path.Combine(_dir.FullName, name);

    private static TaskReport Run(ITaskModel model, IReadOnlyList<TaskFile> files, TaskRunOptions options) =>
        TaskEvaluation.RunAsync(model, files, options).GetAwaiter().GetResult();

    /// <summary>A file of <paramref name="docs"/> L-Eval documents "dD-w0 … dD-w(n−1)" with two f1 questions each.</summary>
    private string SyntheticLEval(string name, int docs, int words, string evaluation = "f1")
    {
        var path = Path.Combine(_dir.FullName, name + ".jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, docs).Select(d => JsonSerializer.Serialize(new
        {
            input = string.Join(' ', Enumerable.Range(0, words).Select(w => $"d{d}-w{w}")),
            instructions = new[] { $"What is the first word of document {d}?", $"What is the last word of document {d}?" },
            outputs = new[] { $"d{d}-w0", $"d{d}-w{words - 1}" },
            source = "synthetic",
            evaluation,
        })));
        return path;
    }

    // ---- the oracle and chance level on the fixture files ----

    [SkippableFact]
    public void Oracle_scores_100_percent_on_every_fixture_leval_file()
    {
        var files = TaskFileReader.ReadAll(LEvalFiles.Select(LEval));
        Assert.Equal(17, files.Count);
        var options = new TaskRunOptions { OutputDirectory = Out("oracle"), Lengths = [1024], Limit = 3 };
        var model = ScriptedTaskModel.Oracle(files, options);
        var report = Run(model, files, options);
        Assert.Equal(17, report.Cells.Count);
        foreach (var cell in report.Cells)
        {
            Assert.True(cell.Score == 1.0, $"{cell.Task}: oracle scored {cell.Score}");
            Assert.Equal(0, cell.Unparsed);
            Assert.Equal(Math.Min(3, files.Single(f => f.Name == cell.Task).QueryCount), cell.N);
        }
        Assert.Equal(1.0, report.Overall.Single().Score);
        // Short caps: long documents were cut, and every prompt kept within its cap.
        Assert.True(report.Cells.Sum(c => c.Truncated) > 20);
        Assert.All(model.Requests, r => Assert.True(model.Tokenize(r.Prompt).Length + 1 + r.MaxNewTokens <= 1024));
    }

    [SkippableTheory]
    [InlineData("closed-ended/tpo")]
    [InlineData("closed-ended/coursera")]
    public void Constant_A_scores_the_chance_level_computed_from_the_references(string name)
    {
        var file = TaskFileReader.Read(LEval(name));
        var references = file.Queries().Select(q => q.Query.References[0].Trim()).ToList();
        // Always answering "A": 1 when the reference is A alone; on coursera, whose questions may have several correct
        // options, L-Eval gives 0.25 for a correct proper subset, so "A" earns 0.25 where the answer is AB, ACD, ...
        double expected = references.Sum(r => r == "A" ? 1.0 : r.Length > 1 && r.Contains('A') ? 0.25 : 0.0) / references.Count;
        if (name.EndsWith("tpo", StringComparison.Ordinal)) Assert.Equal(47.0 / 269, expected, 12);
        Assert.InRange(expected, 0.05, 0.6);
        var report = Run(ScriptedTaskModel.Constant("A"), [file], new TaskRunOptions { OutputDirectory = Out(name.Replace('/', '-')), Lengths = [300] });
        var cell = Assert.Single(report.Cells);
        Assert.Equal(references.Count, cell.N);
        Assert.Equal(expected, cell.Score, 12);
        Assert.Equal(0, cell.Unparsed);
    }

    [SkippableFact]
    public void Unreadable_answers_are_counted_as_unparsed_and_score_zero()
    {
        var file = TaskFileReader.Read(LEval("closed-ended/tpo"));
        var report = Run(ScriptedTaskModel.Constant("???"), [file], new TaskRunOptions { OutputDirectory = Out("unparsed"), Lengths = [300], Limit = 10 });
        var cell = Assert.Single(report.Cells);
        Assert.Equal(10, cell.N);
        Assert.Equal(10, cell.Unparsed);
        Assert.Equal(0, cell.Score);
        var lines = File.ReadAllLines(Path.Combine(Out("unparsed"), TaskEvaluation.ResultsFileName));
        Assert.Equal(10, lines.Length);
        Assert.All(lines, l => Assert.False(JsonDocument.Parse(l).RootElement.GetProperty("parsed").GetBoolean()));
    }

    // ---- truncation ----

    private static (TaskFile File, TaskDocument Doc, TaskQuery Query) OneDocument(int words, string question = "Which word comes first in the long document?")
    {
        var text = string.Join(' ', Enumerable.Range(0, words).Select(w => $"w{w}"));
        var query = new TaskQuery(0, "1:0", question, ["w0"]);
        var doc = new TaskDocument(0, 1, text, [query]);
        return (new TaskFile("/synthetic/qa.jsonl", "qa", TaskFileFormat.LEval, TaskMetric.F1, [doc]), doc, query);
    }

    [Fact]
    public void Middle_truncation_keeps_start_and_end_and_the_whole_question_within_budget()
    {
        var (file, doc, query) = OneDocument(1000);
        var model = ScriptedTaskModel.Constant("x");
        var builder = new TaskPromptBuilder(model, TaskPrompts.Default, TaskTruncation.Middle, chat: false);
        var prompt = builder.Build(file, doc, query, [], 400);
        int budget = 400 - prompt.Template.MaxNewTokens - 1;
        Assert.Equal(budget, prompt.TokenBudget);
        Assert.Equal(budget, prompt.Tokens);
        Assert.Equal(prompt.Tokens, model.Tokenize(prompt.Text).Length);
        Assert.True(prompt.Truncated);
        Assert.False(prompt.OverBudget);
        Assert.Equal(1000, prompt.DocumentTokens);
        int kept = prompt.KeptDocumentTokens;
        Assert.InRange(kept, 100, 999);
        // The first ⌈k/2⌉ and the last ⌊k/2⌋ words, adjacent in the prompt.
        int head = (kept + 1) / 2;
        var expected = string.Join(' ', Enumerable.Range(0, head).Select(w => $"w{w}").Concat(Enumerable.Range(1000 - (kept - head), kept - head).Select(w => $"w{w}")));
        Assert.Contains(expected, prompt.Text);
        Assert.DoesNotContain($" w{head} ", prompt.Text);
        Assert.Contains("Question: " + query.Question, prompt.Text);
        Assert.EndsWith("Answer:", prompt.Text);
    }

    [Fact]
    public void Left_truncation_keeps_the_end()
    {
        var (file, doc, query) = OneDocument(1000);
        var model = ScriptedTaskModel.Constant("x");
        var prompt = new TaskPromptBuilder(model, TaskPrompts.Default, TaskTruncation.Left, chat: false).Build(file, doc, query, [], 400);
        int kept = prompt.KeptDocumentTokens;
        Assert.True(prompt.Truncated);
        Assert.Equal(prompt.TokenBudget, prompt.Tokens);
        Assert.Contains(string.Join(' ', Enumerable.Range(1000 - kept, kept).Select(w => $"w{w}")), prompt.Text);
        Assert.DoesNotContain("w0 ", prompt.Text);
        Assert.Contains($"w{1000 - kept} ", prompt.Text);
        Assert.DoesNotContain($"w{1000 - kept - 1} ", prompt.Text);
        Assert.Contains(query.Question, prompt.Text);
    }

    [Fact]
    public void A_document_that_fits_goes_in_as_written()
    {
        var (file, doc, query) = OneDocument(50);
        var prompt = new TaskPromptBuilder(ScriptedTaskModel.Constant("x"), TaskPrompts.Default, TaskTruncation.Middle, false).Build(file, doc, query, [], 400);
        Assert.False(prompt.Truncated);
        Assert.Equal(50, prompt.KeptDocumentTokens);
        Assert.Contains(doc.Text, prompt.Text);
    }

    [Fact]
    public void A_question_longer_than_the_budget_is_sent_whole_and_marked_over_budget()
    {
        var longQuestion = string.Join(' ', Enumerable.Repeat("why", 300)) + "?";
        var (file, doc, query) = OneDocument(100, longQuestion);
        var prompt = new TaskPromptBuilder(ScriptedTaskModel.Constant("x"), TaskPrompts.Default, TaskTruncation.Middle, false).Build(file, doc, query, [], 200);
        Assert.True(prompt.OverBudget);
        Assert.True(prompt.Truncated);
        Assert.Equal(0, prompt.KeptDocumentTokens);
        Assert.Contains(longQuestion, prompt.Text);
    }

    [Fact]
    public void A_document_longer_than_the_model_context_is_truncated_to_it_and_counted()
    {
        var path = SyntheticLEval("huge", docs: 2, words: 20_000);
        var file = TaskFileReader.Read(path);
        // Length cap 16384 but a 600-token model: the cap becomes the model's context.
        var model = ScriptedTaskModel.Constant("d0-w0", contextLength: 600);
        var report = Run(model, [file], new TaskRunOptions { OutputDirectory = Out("huge"), Lengths = [16384] });
        var cell = Assert.Single(report.Cells);
        Assert.Equal(4, cell.N);
        Assert.Equal(4, cell.Truncated);
        Assert.Equal(0, cell.Errors);
        Assert.All(model.Requests, r => Assert.True(model.Tokenize(r.Prompt).Length + 1 + r.MaxNewTokens <= 600));
        var results = new TaskResultsFile(Path.Combine(Out("huge"), TaskEvaluation.ResultsFileName)).Load();
        Assert.All(results, r => Assert.True(r.Truncated && r.DocumentTokens == 20_000 && r.KeptDocumentTokens < 600));
        // "d0-w0" is right for the first question of document 0 only (and the kept start holds it).
        Assert.Equal(0.25, cell.Score, 12);
    }

    [Fact]
    public void A_prompt_the_model_refuses_is_retried_smaller_then_recorded_as_an_error()
    {
        var path = SyntheticLEval("tight", docs: 1, words: 5000);
        var file = TaskFileReader.Read(path);
        // The model counts 100 more prompt tokens than the harness measures (as chat markup would): one retry fits.
        int calls = 0;
        var hidden = new HiddenTokensModel(extra: 100, contextLength: 1000, () => calls++);
        var report = Run(hidden, [file], new TaskRunOptions { OutputDirectory = Out("tight"), Lengths = [1000], Limit = 1 });
        Assert.Equal(0, Assert.Single(report.Cells).Errors);
        Assert.Equal(1, calls);
        // A model whose markup alone fills its context can never answer: recorded, not thrown.
        var hopeless = new HiddenTokensModel(extra: 5000, contextLength: 1000, () => { });
        var report2 = Run(hopeless, [file], new TaskRunOptions { OutputDirectory = Out("hopeless"), Lengths = [1000], Limit = 1 });
        var cell = Assert.Single(report2.Cells);
        Assert.Equal(1, cell.Errors);
        Assert.Equal(1, cell.Unparsed);
        Assert.Equal(0, cell.Score);
    }

    [Fact]
    public void A_question_that_cannot_fit_the_model_even_without_its_document_is_recorded_not_sent()
    {
        var path = Path.Combine(_dir.FullName, "longq.jsonl");
        File.WriteAllText(path, JsonSerializer.Serialize(new
        {
            input = "a short document", instructions = new[] { string.Join(' ', Enumerable.Repeat("why", 2000)) + "?", "ok?" },
            outputs = new[] { "because", "yes" }, evaluation = "f1",
        }) + "\n");
        var model = ScriptedTaskModel.Constant("yes", contextLength: 1000);
        var report = Run(model, [TaskFileReader.Read(path)], new TaskRunOptions { OutputDirectory = Out("longq"), Lengths = [1000] });
        var cell = Assert.Single(report.Cells);
        Assert.Equal((2, 1, 1, 1), (cell.N, cell.Errors, cell.Unparsed, cell.OverBudget));
        Assert.Single(model.Requests);
        Assert.Equal(0.5, cell.Score, 12);
        var unanswered = new TaskResultsFile(Path.Combine(Out("longq"), TaskEvaluation.ResultsFileName)).Load().Single(r => r.Error is not null);
        Assert.True(unanswered.OverBudget);
        Assert.Contains("exceed the model's 1000-token context", unanswered.Error);
    }

    /// <summary>A model that sees <c>extra</c> more prompt tokens than its Tokenize reports.</summary>
    private sealed class HiddenTokensModel(int extra, int contextLength, Action onAnswer) : ITaskModel
    {
        private readonly ScriptedTaskModel _words = ScriptedTaskModel.Constant("x");
        public string Name => "hidden";
        public int ContextLength => contextLength;
        public int[] Tokenize(string text) => _words.Tokenize(text);
        public string Detokenize(IReadOnlyList<int> tokens) => _words.Detokenize(tokens);

        public Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default)
        {
            int prompt = Tokenize(request.Prompt).Length + 1 + extra;
            if (prompt + request.MaxNewTokens > contextLength) throw new Common.ContextOverflowException(prompt, request.MaxNewTokens, contextLength);
            onAnswer();
            return Task.FromResult(new TaskGeneration("d0-w0", prompt, 1));
        }

        public Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public void Dispose() { }
    }

    // ---- few-shot ----

    [Fact]
    public void Few_shot_examples_come_from_other_documents_and_are_seeded()
    {
        var file = TaskFileReader.Read(SyntheticLEval("shots", docs: 6, words: 40));
        foreach (var (doc, query) in file.Queries())
        {
            var a = TaskExampleSampler.Select(file, doc, query, 2, seed: 7);
            Assert.Equal(2, a.Count);
            Assert.All(a, e => Assert.NotEqual(doc.Index, e.Document.Index));
            Assert.NotEqual(a[0].Document.Index, a[1].Document.Index);
            Assert.Equal(a.Select(e => (e.Document.Index, e.Query.Index)), TaskExampleSampler.Select(file, doc, query, 2, seed: 7).Select(e => (e.Document.Index, e.Query.Index)));
        }
        // Another seed draws differently somewhere among the 12 questions.
        Assert.Contains(file.Queries(), x =>
            !TaskExampleSampler.Select(file, x.Document, x.Query, 2, 7).Select(e => (e.Document.Index, e.Query.Index))
                .SequenceEqual(TaskExampleSampler.Select(file, x.Document, x.Query, 2, 8).Select(e => (e.Document.Index, e.Query.Index))));
        // More shots than other documents: all five others, none twice.
        var (d0, q0) = file.Queries().First();
        var all = TaskExampleSampler.Select(file, d0, q0, 9, 1);
        Assert.Equal(new[] { 1, 2, 3, 4, 5 }, all.Select(e => e.Document.Index).Order());
    }

    [Fact]
    public void Documents_with_the_query_documents_text_are_never_examples()
    {
        // gsm100 repeats one input on every line: another line with the same text is the same document.
        var path = Path.Combine(_dir.FullName, "same.jsonl");
        File.WriteAllLines(path, new[] { "shared text", "shared text", "other text" }.Select((t, i) =>
            JsonSerializer.Serialize(new { input = t, instructions = new[] { $"q{i}" }, outputs = new[] { "1" }, evaluation = "f1" })));
        var file = TaskFileReader.Read(path);
        var examples = TaskExampleSampler.Select(file, file.Documents[0], file.Documents[0].Queries[0], 2, 1);
        Assert.Equal(2, Assert.Single(examples).Document.Index);
    }

    [Fact]
    public void Few_shot_prompts_show_example_answers_and_split_the_document_budget()
    {
        var file = TaskFileReader.Read(SyntheticLEval("split", docs: 4, words: 2000));
        var model = ScriptedTaskModel.Constant("x");
        var builder = new TaskPromptBuilder(model, TaskPrompts.Default, TaskTruncation.Middle, false);
        var (doc, query) = file.Queries().First();
        var examples = TaskExampleSampler.Select(file, doc, query, 2, 3);
        var prompt = builder.Build(file, doc, query, examples, 1200);
        Assert.Equal(prompt.TokenBudget, prompt.Tokens);
        Assert.Equal(examples.Select(e => (e.Document.Index, e.Query.Index)), prompt.Examples);
        foreach (var (d, q) in examples)
        {
            Assert.Contains($"Question: {q.Question}\nAnswer: {q.References[0]}", prompt.Text);
            Assert.Contains($"d{d.Index}-w0 ", prompt.Text);
        }
        // Three documents share the room equally (each example at most a third; the query takes the rest).
        int exampleWords = examples.Sum(e => prompt.Text.Split(' ', '\n').Count(w => w.StartsWith($"d{e.Document.Index}-w", StringComparison.Ordinal)));
        Assert.InRange(prompt.KeptDocumentTokens, exampleWords / 2 - 2, exampleWords / 2 + 4);
        Assert.True(prompt.Text.IndexOf($"d{doc.Index}-w0 ", StringComparison.Ordinal) > prompt.Text.LastIndexOf("Answer: ", prompt.Text.Length - 10, StringComparison.Ordinal));
    }

    [Fact]
    public void The_same_examples_are_used_at_every_length()
    {
        var file = TaskFileReader.Read(SyntheticLEval("lengths", docs: 5, words: 3000));
        var options = new TaskRunOptions { OutputDirectory = Out("lengths"), Lengths = [600, 1200], Shots = [1], Limit = 4 };
        Run(ScriptedTaskModel.Constant("x"), [file], options);
        var results = new TaskResultsFile(Path.Combine(Out("lengths"), TaskEvaluation.ResultsFileName)).Load();
        Assert.Equal(8, results.Count);
        Assert.All(results, r => Assert.Equal(1, r.Examples));
        var byQuestion = results.GroupBy(r => (r.Document, r.Query));
        Assert.All(byQuestion, g => Assert.True(g.Single(r => r.Length == 600).KeptDocumentTokens < g.Single(r => r.Length == 1200).KeptDocumentTokens));
    }

    // ---- resume ----

    [Fact]
    public void An_interrupted_run_resumes_and_reports_what_an_uninterrupted_run_reports()
    {
        var file = TaskFileReader.Read(SyntheticLEval("resume", docs: 5, words: 500));
        TaskRunOptions Options(string dir) => new() { OutputDirectory = Out(dir), Lengths = [300, 700], Shots = [0, 1] };
        // Right on first-word questions of even documents, and of every document when shown an example, so scores vary across cells.
        static string Answer(TaskGenerationRequest r, int _)
        {
            var m = System.Text.RegularExpressions.Regex.Match(r.Prompt, @"What is the (first|last) word of document (\d+)\?\s*Answer:\s*$");
            Assert.True(m.Success);
            bool right = m.Groups[1].Value == "first" && (int.Parse(m.Groups[2].Value) % 2 == 0 || r.Prompt.Contains("\nAnswer: d", StringComparison.Ordinal));
            return right ? $"d{m.Groups[2].Value}-w0" : "nothing";
        }
        var whole = Run(new ScriptedTaskModel(Answer), [file], Options("whole"));
        Assert.Equal(40, whole.Answered);

        // Stop after 13 answers, as a killed process would (the 14th never returns).
        var stopping = new ScriptedTaskModel((r, i) => i < 13 ? Answer(r, i) : throw new OperationCanceledException());
        Assert.Throws<OperationCanceledException>(() => Run(stopping, [file], Options("split")));
        var resultsPath = Path.Combine(Out("split"), TaskEvaluation.ResultsFileName);
        Assert.Equal(13, File.ReadAllLines(resultsPath).Length);
        // A half-written line from the moment of the kill is dropped, not read.
        File.AppendAllText(resultsPath, "{\"task\":\"resume\",\"docu");

        var resumedModel = new ScriptedTaskModel(Answer);
        var resumed = Run(resumedModel, [file], Options("split"));
        Assert.Equal(27, resumedModel.Requests.Count);
        Assert.Equal(27, resumed.Answered);
        Assert.Equal(13, resumed.Resumed);
        Assert.Equal(40, File.ReadAllLines(resultsPath).Length);
        static object Strip(TaskReport r) => new
        {
            Cells = r.Cells.Select(c => c with { Seconds = 0 }).ToList(),
            Overall = r.Overall.Select(o => o with { Seconds = 0 }).ToList(),
        };
        Assert.Equal(JsonSerializer.Serialize(Strip(whole)), JsonSerializer.Serialize(Strip(resumed)));
        Assert.True(whole.Cells.Select(c => c.Score).Distinct().Count() > 1);

        // Running again answers nothing.
        var again = new ScriptedTaskModel(Answer);
        Assert.Equal(0, Run(again, [file], Options("split")).Answered);
        Assert.Empty(again.Requests);
    }

    [Fact]
    public void Resuming_with_other_settings_is_refused()
    {
        var file = TaskFileReader.Read(SyntheticLEval("settings", docs: 2, words: 50));
        Run(ScriptedTaskModel.Constant("x"), [file], new TaskRunOptions { OutputDirectory = Out("settings"), Lengths = [300] });
        var e = Assert.Throws<ArgumentException>(() =>
            Run(ScriptedTaskModel.Constant("x"), [file], new TaskRunOptions { OutputDirectory = Out("settings"), Lengths = [300], Truncation = TaskTruncation.Left }));
        Assert.Contains("--truncate middle → left", e.Message);
        // Lengths and shots may change: they are part of each result's key.
        var more = Run(ScriptedTaskModel.Constant("x"), [file], new TaskRunOptions { OutputDirectory = Out("settings"), Lengths = [300, 400] });
        Assert.Equal(4, more.Answered);
        Assert.Equal(4, more.Resumed);

        // A task file edited since (a line inserted at the top) would pair old answers with new questions: refused.
        var path = Path.Combine(_dir.FullName, "settings.jsonl");
        File.WriteAllLines(path, [JsonSerializer.Serialize(new { input = "new doc", instructions = new[] { "new?" }, outputs = new[] { "yes" }, evaluation = "f1" }),
            .. File.ReadAllLines(path)]);
        var edited = TaskFileReader.Read(path);
        var changed = Assert.Throws<TaskDataException>(() =>
            Run(ScriptedTaskModel.Constant("x"), [edited], new TaskRunOptions { OutputDirectory = Out("settings"), Lengths = [300] }));
        Assert.Contains("the task file changed", changed.Message);
        Assert.Contains(TaskEvaluation.ResultsFileName, changed.Message);
    }

    // ---- readers ----

    [Fact]
    public void A_malformed_line_names_the_file_and_line()
    {
        var path = Path.Combine(_dir.FullName, "broken.jsonl");
        File.WriteAllText(path, JsonSerializer.Serialize(new { input = "doc", instructions = new[] { "q" }, outputs = new[] { "a" }, evaluation = "f1" })
            + "\n\n{\"input\": \"doc\", \"instructions\": [\"q\"\n");
        var e = Assert.Throws<TaskDataException>(() => TaskFileReader.Read(path));
        Assert.Equal(3, e.LineNumber);
        Assert.Contains(path, e.Message);
        Assert.Contains("line 3", e.Message);

        File.WriteAllText(path, JsonSerializer.Serialize(new { input = "doc", instructions = new[] { "q", "r" }, outputs = new[] { "a" }, evaluation = "f1" }) + "\n");
        e = Assert.Throws<TaskDataException>(() => TaskFileReader.Read(path));
        Assert.Contains("line 1: 2 instructions but 1 outputs", e.Message);
        Assert.Equal("outputs", e.Key);

        File.WriteAllText(path, JsonSerializer.Serialize(new { input = 3, instructions = new[] { "q" }, outputs = new[] { "a" }, evaluation = "f1" }) + "\n");
        e = Assert.Throws<TaskDataException>(() => TaskFileReader.Read(path));
        Assert.Equal("input", e.Key);
    }

    [SkippableFact]
    public void Leval_files_read_as_one_document_per_line_with_their_metric()
    {
        var tpo = TaskFileReader.Read(LEval("closed-ended/tpo"));
        Assert.Equal(("tpo", TaskFileFormat.LEval, TaskMetric.Exam, 15, 269), (tpo.Name, tpo.Format, tpo.Metric, tpo.Documents.Count, tpo.QueryCount));
        // financial_qa marks two lines "LLM"/"human" (L-Eval's judged subset): kept, scored by F1 like the rest.
        var fin = TaskFileReader.Read(LEval("open-ended/financial_qa"));
        Assert.Equal((TaskMetric.F1, 8), (fin.Metric, fin.Documents.Count));
        Assert.Equal(TaskMetric.Rouge, TaskFileReader.Read(LEval("open-ended/news_summ")).Metric);
        Assert.Equal(TaskPromptKind.ExamChoice, TaskPromptBuilder.KindFor(tpo, tpo.Documents[0].Queries[0]));
        var gsm = TaskFileReader.Read(LEval("closed-ended/gsm100"));
        Assert.Equal(TaskPromptKind.ExamNumber, TaskPromptBuilder.KindFor(gsm, gsm.Documents[0].Queries[0]));
    }

    [Fact]
    public void Scrolls_style_lines_split_question_and_document_merge_references_and_share_documents()
    {
        var path = Path.Combine(_dir.FullName, "qasper.jsonl");
        File.WriteAllLines(path,
        [
            JsonSerializer.Serialize(new { id = "a", pid = "1", input = "What is X?\n\nThe paper. X is a model.", output = "a model" }),
            JsonSerializer.Serialize(new { id = "a", pid = "2", input = "What is X?\n\nThe paper. X is a model.", output = "model" }),
            JsonSerializer.Serialize(new { id = "b", input = "What is Y?\n\nThe paper. X is a model.", outputs = new[] { "unknown" } }),
            JsonSerializer.Serialize(new { id = "c", input = "Who?\n\nAnother paper.", output = "nobody" }),
        ]);
        var file = TaskFileReader.Read(path);
        Assert.Equal((TaskFileFormat.Scrolls, TaskMetric.F1), (file.Format, file.Metric));
        Assert.Equal(2, file.Documents.Count);
        Assert.Equal("The paper. X is a model.", file.Documents[0].Text);
        Assert.Equal(new[] { "What is X?", "What is Y?" }, file.Documents[0].Queries.Select(q => q.Question));
        Assert.Equal(new[] { "a model", "model" }, file.Documents[0].Queries[0].References);
        Assert.Equal("Who?", file.Documents[1].Queries[0].Question);
        // A prediction scores its best reference.
        Assert.Equal(1.0, TaskEvaluation.Best(file, "model", file.Documents[0].Queries[0].References).Value);
    }

    [Fact]
    public void Scrolls_metric_comes_from_metric_option_or_task_name_else_a_clear_error()
    {
        var path = Path.Combine(_dir.FullName, "mystery.jsonl");
        File.WriteAllText(path, JsonSerializer.Serialize(new { id = "1", input = "Q?\n\nDoc.", output = "A" }) + "\n");
        var e = Assert.Throws<TaskDataException>(() => TaskFileReader.Read(path));
        Assert.Contains("--metric", e.Message);
        Assert.Equal(TaskMetric.Rouge, TaskFileReader.Read(path, TaskMetric.Rouge).Metric);

        var gov = Path.Combine(_dir.FullName, "gov_report.jsonl");
        File.WriteAllText(gov, JsonSerializer.Serialize(new { id = "1", input = "A report.\n\nWith two paragraphs.", output = "Summary." }) + "\n");
        var file = TaskFileReader.Read(gov);
        Assert.Equal(TaskMetric.Rouge, file.Metric);
        Assert.Equal("A report.\n\nWith two paragraphs.", file.Documents[0].Text);
        Assert.Equal(TaskFileReader.SummaryInstruction, file.Documents[0].Queries[0].Question);

        // ZeroSCROLLS' offsets cut document and query out of a prompt-shaped input.
        var zs = Path.Combine(_dir.FullName, "narrative_qa.jsonl");
        const string input = "You are given a story.\n\nStory:\nOnce upon a time.\n\nQuestion:\nWho?\n\nAnswer:";
        File.WriteAllText(zs, JsonSerializer.Serialize(new
        {
            id = "z", input, output = "a king",
            document_start_index = input.IndexOf("Once", StringComparison.Ordinal), document_end_index = input.IndexOf("\n\nQuestion", StringComparison.Ordinal),
            query_start_index = input.IndexOf("Who", StringComparison.Ordinal), query_end_index = input.IndexOf("\n\nAnswer", StringComparison.Ordinal),
        }) + "\n");
        var z = TaskFileReader.Read(zs);
        Assert.Equal(("Once upon a time.", "Who?", TaskMetric.F1), (z.Documents[0].Text, z.Documents[0].Queries[0].Question, z.Metric));
    }

    // ---- prompts ----

    [Fact]
    public void Prompt_files_override_by_kind_or_task_and_typos_are_errors()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir.FullName, "prompts")).FullName;
        var written = TaskPrompts.WriteDefaults(dir);
        Assert.Equal(5, written.Count);
        File.WriteAllText(Path.Combine(dir, "qa.txt"), "[settings]\nmax_new_tokens = 7\nstop = \\n\\n\n[example]\nD {document} Q {question} A {answer}\n\n[prompt]\n{examples}DOC {document}\nASK {question}\n");
        File.WriteAllText(Path.Combine(dir, "special.txt"), "[settings]\nmax_new_tokens = 3\n[example]\n{document}{question}{answer}\n[prompt]\n{examples}S {document} {question}\n");
        var prompts = TaskPrompts.Load(dir, ["special", "other"]);
        Assert.NotEqual(TaskPrompts.Default.Fingerprint(), prompts.Fingerprint());
        var qa = prompts.For("other", TaskPromptKind.Qa);
        Assert.Equal((7, "\n\n"), (qa.MaxNewTokens, Assert.Single(qa.Stop)));
        Assert.Equal("DOC d\nASK q?", qa.Render("", "d", "q?"));
        Assert.Equal("D d Q q A a\n", qa.RenderExample("d", "q", "a"));
        Assert.Equal(3, prompts.For("special", TaskPromptKind.Summary).MaxNewTokens);
        // A document mentioning a placeholder is not filled in twice.
        Assert.Equal("DOC {question}\nASK q", qa.Render("", "{question}", "q"));

        var e = Assert.Throws<TaskDataException>(() => TaskPrompts.Load(dir, ["other"]));
        Assert.Contains("special.txt", e.Message);
        File.WriteAllText(Path.Combine(dir, "special.txt"), "[settings]\nmax_new_tokens = 3\n[example]\n{document}{question}{answer}\n[prompt]\n{documnet} {question}\n");
        e = Assert.Throws<TaskDataException>(() => TaskPrompts.Load(dir));
        Assert.Contains("unknown placeholder {documnet}", e.Message);
        Assert.Equal(5, e.LineNumber);
    }

    [Fact]
    public void Built_in_templates_parse_with_budgets_and_stops()
    {
        foreach (var kind in Enum.GetValues<TaskPromptKind>())
        {
            var t = TaskPrompts.Default.For("any", kind);
            Assert.True(t.MaxNewTokens > 0);
            Assert.NotEmpty(t.Stop);
            Assert.Contains("QUESTION?", t.Render("EX ", "DOC", "QUESTION?"));
            // Examples come before the query's document, the question after it.
            var text = t.Render("EXAMPLES ", "DOC", "QUESTION?");
            Assert.True(text.IndexOf("EXAMPLES ", StringComparison.Ordinal) < text.IndexOf("DOC", StringComparison.Ordinal));
            Assert.True(text.IndexOf("DOC", StringComparison.Ordinal) < text.IndexOf("QUESTION?", StringComparison.Ordinal));
        }
    }
}
