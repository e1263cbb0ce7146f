using System.Text.Json.Nodes;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Serving;
using Elongate.Tests.Cli;
using Elongate.Tests.Serving;
using Elongate.Tokenization;

namespace Elongate.Tests.Data;

/// <summary>Self-instruct long QA: parsing, self-check, truncation with the evidence kept, resume, and teacher failures.</summary>
[Collection(ServingCollection.Name)]
public sealed class SelfInstructTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-selfinstruct").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static readonly Lazy<ITokenizer> Llama = new(() => TokenizerLoader.Load(Fixtures.Path("tokenizers/tokenizer.bin")));

    private static readonly string[] Books = ["dracula.txt", "frankenstein.txt", "moby_dick.txt", "pride_and_prejudice.txt"];

    /// <summary>A folder of documents: a slice of each fixture book (a few thousand tokens) and one document shorter than a chunk.</summary>
    private string Documents(int chars = 9000)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "docs")).FullName;
        foreach (var book in Books)
        {
            var text = File.ReadAllText(Fixtures.Path("corpus/" + book));
            File.WriteAllText(Path.Combine(dir, book), text.Substring(text.Length / 3, chars));
        }
        File.WriteAllText(Path.Combine(dir, "tiny.txt"), "The lighthouse keeper counted ninety-nine ships in the bay that night. Nobody believed him at first.");
        return dir;
    }

    private SelfInstructOptions Options(string docs, string output) => new()
    {
        Documents = [docs], OutputPath = output, Tokenizer = Llama.Value, ChunkTokens = 128, PairsPerDocument = 4, MaxContext = 700,
        Concurrency = 3, Seed = 7, RetryDelay = TimeSpan.FromMilliseconds(1),
    };

    private static List<JsonObject> Lines(string path) =>
        File.Exists(path) ? [.. File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonNode.Parse(l)!.AsObject())] : [];

    [Fact]
    public void Parser_reads_json_in_fences_or_text_and_question_answer_lines()
    {
        Assert.Equal(("Q?", "A."), SelfInstructParser.ParsePair("{\"question\": \"Q?\", \"answer\": \"A.\"}"));
        Assert.Equal(("Who?", "Him."), SelfInstructParser.ParsePair("Sure, here:\n```json\n{\"Question\":\"Who?\",\"Answer\":\"Him.\"}\n```\nanything else?"));
        Assert.Equal(("Who?", "Him."), SelfInstructParser.ParsePair("Note {not json} then {\"question\":\"Who?\",\"answer\":\"Him.\"} trailing"));
        Assert.Equal(("Where is it?", "In the box, under the bed."), SelfInstructParser.ParsePair("Question: Where is it?\nAnswer: In the box, under the bed."));
        Assert.Equal(("Where?", "There."), SelfInstructParser.ParsePair("**Question:** Where?\n**Answer:** There."));
        Assert.Null(SelfInstructParser.ParsePair("the the the the"));
        Assert.Null(SelfInstructParser.ParsePair("{\"question\": \"Q?\", \"answer\": \"\"}"));
        Assert.Null(SelfInstructParser.ParsePair("{\"question\": \"Q?\""));
        Assert.Null(SelfInstructParser.ParsePair(""));
        Assert.True(SelfInstructParser.ParseVerdict("Yes, it is supported."));
        Assert.True(SelfInstructParser.ParseVerdict("  **YES**"));
        Assert.False(SelfInstructParser.ParseVerdict("No."));
        Assert.Null(SelfInstructParser.ParseVerdict("Maybe"));
        Assert.Null(SelfInstructParser.ParseVerdict("Nobody knows"));
        Assert.Equal(SelfInstructParser.Normalize("What is  the NAME of the ship?"), SelfInstructParser.Normalize("what is the name of the ship"));
        Assert.True(SelfInstructParser.QuotesChunk("He said: the white whale!", "and then the White Whale rose"));
        Assert.False(SelfInstructParser.QuotesChunk("A green moon", "and then the white whale rose"));
    }

    [Fact]
    public void Prompts_folder_overrides_files_of_the_same_name_and_checks_placeholders()
    {
        var dir = Directory.CreateDirectory(Path.Combine(_dir, "prompts")).FullName;
        File.WriteAllText(Path.Combine(dir, SelfInstructPrompts.ShortFile), "Passage: {chunk}. One short question as JSON.");
        var p = SelfInstructPrompts.Load(dir);
        Assert.Equal("Passage: X. One short question as JSON.", p.Generation(SelfInstructKind.Short, "X"));
        Assert.Equal(SelfInstructPrompts.DefaultLong, p.Long);
        File.WriteAllText(Path.Combine(dir, SelfInstructPrompts.CheckFile), "Is {answer} right?");
        Assert.Throws<ArgumentException>(() => SelfInstructPrompts.Load(dir));
    }

    [SkippableFact]
    public async Task Rule_teacher_run_counts_rejections_filters_by_self_check_and_keeps_the_evidence()
    {
        var docs = Documents();
        var output = Path.Combine(_dir, "qa.jsonl");
        var teacher = new RuleTeacher();
        var options = Options(docs, output);
        var report = await SelfInstructor.RunAsync(options, teacher);

        Assert.Equal(5, report.Documents);
        Assert.Equal(1, report.ShortDocuments);
        Assert.Equal(4 * 4 + 1, report.Chunks);
        Assert.Equal(report.Chunks * 2, report.WorkItems);
        Assert.Equal(report.WorkItems, report.Generated);
        Assert.Equal(teacher.BadJson, report.Rejected[SelfInstructor.Parse]);
        Assert.Equal(teacher.Unsupported, report.Rejected[SelfInstructor.SelfCheck]);
        Assert.True(teacher.BadJson > 0 && teacher.Unsupported > 0, $"bad {teacher.BadJson}, unsupported {teacher.Unsupported}");
        Assert.Equal(report.WorkItems, report.Kept + report.Rejected.Values.Sum());
        Assert.True(report.Kept >= 10, $"kept {report.Kept}");
        Assert.Equal(report.Kept, report.EvidencePositionHistogram.Sum());
        Assert.True(File.Exists(SelfInstructor.ReportPathFor(output)));
        Assert.True(new FileInfo(SelfInstructor.PlotPathFor(output)).Length > 1000);
        var saved = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(output)))!;
        Assert.Equal(report.Kept, (int)saved["kept"]!);

        var kept = Lines(output);
        var rejected = Lines(SelfInstructor.RejectedPathFor(output));
        Assert.Equal(report.Kept, kept.Count);
        Assert.Equal(report.Rejected.Values.Sum(), rejected.Count);
        Assert.Equal(report.WorkItems, kept.Concat(rejected).Select(l => (string)l["key"]!).Distinct().Count());
        Assert.Contains(kept.Concat(rejected), l => ((string)l["key"]!).StartsWith("tiny.txt:0:", StringComparison.Ordinal));
        bool truncated = false;
        foreach (var line in kept)
        {
            var key = (string)line["key"]!;
            Assert.Matches(@"^[a-z_]+\.txt:\d+:(short|long)$", key);
            var user = (string)line["messages"]![0]!["content"]!;
            var answer = (string)line["messages"]![1]!["content"]!;
            // The evidence survives the truncation: the answer, taken from the chunk, is in the user turn's document.
            Assert.Contains(SelfInstructParser.Normalize(answer), SelfInstructParser.Normalize(user));
            Assert.EndsWith((string)line["question"]!, user);
            int userTokens = Llama.Value.Encode(user, false, false).Length, answerTokens = Llama.Value.Encode(answer, false, false).Length;
            Assert.True(userTokens + answerTokens <= options.MaxContext - options.TemplateMargin + 8, $"{key}: {userTokens} + {answerTokens} tokens");
            int offset = (int)line["evidence_token_offset"]!, docTokens = (int)line["context_document_tokens"]!;
            Assert.InRange(offset, 0, docTokens - (int)line["chunk_tokens"]!);
            truncated |= (bool)line["document_truncated"]!;
            Assert.True((bool)line["quotes_chunk"]!);
        }
        Assert.True(truncated, "the books are longer than --max-context: some documents must have been cut");
        Assert.All(rejected.Where(r => (string)r["reason"]! == SelfInstructor.SelfCheck), r => Assert.StartsWith("No", (string)r["detail"]!));

        // The output is a fine-tuning set as it stands.
        var examples = InstructionReader.Read(output).ToList();
        Assert.Equal(kept.Count, examples.Count);
        var template = ChatTemplate.FromName("llama2");
        var labeled = examples.Select(e => InstructionRenderer.Render(e, Llama.Value, template)).ToList();
        var set = FineTuneSequenceBuilder.Build(labeled, new FineTuneSequenceOptions { SeqLen = 1024, Loss = LossTokens.AnswersAndInput, PadId = FineTuneSequenceOptions.PadIdFor(Llama.Value.Vocabulary) });
        Assert.NotNull(set);

        // Rerunning does nothing more: every key is done.
        var before = File.ReadAllText(output);
        var again = await SelfInstructor.RunAsync(options, new RuleTeacher());
        Assert.Equal(report.WorkItems, again.Resumed);
        Assert.Equal(0, again.Kept);
        Assert.Equal(report.Kept, again.KeptTotal);
        Assert.Equal(before, File.ReadAllText(output));
    }

    [SkippableFact]
    public async Task Killed_run_resumed_gives_the_same_set_as_an_uninterrupted_one()
    {
        var docs = Documents();
        var whole = Path.Combine(_dir, "whole", "qa.jsonl");
        await SelfInstructor.RunAsync(Options(docs, whole), new RuleTeacher());

        var parts = Path.Combine(_dir, "parts", "qa.jsonl");
        using (var cts = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                SelfInstructor.RunAsync(Options(docs, parts), new RuleTeacher(), p => { if (p.Done >= 9) cts.Cancel(); }, cts.Token));
        }
        int afterKill = Lines(parts).Count + Lines(SelfInstructor.RejectedPathFor(parts)).Count;
        Assert.InRange(afterKill, 9, 12);
        // A kill mid-write leaves a torn last line: the rerun cuts it off.
        File.AppendAllText(parts, "{\"messages\":[{\"role\":\"user\",\"con");
        var second = await SelfInstructor.RunAsync(Options(docs, parts) with { Concurrency = 1 }, new RuleTeacher());
        Assert.Equal(afterKill, second.Resumed);

        static HashSet<string> Set(string path) => [.. File.ReadAllLines(path).Where(l => l.Length > 0)];
        Assert.Equal(Set(whole), Set(parts));
        Assert.Equal(Set(SelfInstructor.RejectedPathFor(whole)), Set(SelfInstructor.RejectedPathFor(parts)));
        Assert.Equal(Lines(whole).Count, Lines(parts).Count);
    }

    [SkippableFact]
    public async Task Cancelled_run_with_a_hung_teacher_stops_promptly_writes_its_report_and_resumes_to_the_same_set()
    {
        var docs = Documents();
        var whole = Path.Combine(_dir, "whole", "qa.jsonl");
        var full = await SelfInstructor.RunAsync(Options(docs, whole), new RuleTeacher());

        // From the 15th call on the teacher hangs and ignores the token: Ctrl+C must not wait for it.
        var parts = Path.Combine(_dir, "parts", "qa.jsonl");
        var gated = new GatedTeacher(new RuleTeacher(), blockFrom: 15);
        using var cts = new CancellationTokenSource();
        var run = SelfInstructor.RunAsync(Options(docs, parts), gated, cancellationToken: cts.Token);
        await gated.Blocked.WaitAsync(TimeSpan.FromSeconds(60));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        cts.Cancel();
        var e = await Assert.ThrowsAsync<SelfInstructInterruptedException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"cancellation took {watch.Elapsed}");
        gated.Release();

        // The partial report is written and says so; the files hold complete lines only, as many as it decided.
        var partial = e.Report!;
        Assert.True(partial.Interrupted);
        var saved = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(parts)))!;
        Assert.True((bool)saved["interrupted"]!);
        Assert.Equal(partial.Kept, (int)saved["kept"]!);
        Assert.All(new[] { parts, SelfInstructor.RejectedPathFor(parts) }.Where(File.Exists), f => Assert.EndsWith("\n", File.ReadAllText(f)));
        int decided = Lines(parts).Count + Lines(SelfInstructor.RejectedPathFor(parts)).Count;
        Assert.Equal(partial.Kept + partial.Rejected.Values.Sum(), decided);
        Assert.InRange(decided, 1, full.WorkItems - 1);

        var second = await SelfInstructor.RunAsync(Options(docs, parts), new RuleTeacher());
        Assert.False(second.Interrupted);
        Assert.Equal(decided, second.Resumed);
        static HashSet<string> Set(string path) => [.. File.ReadAllLines(path).Where(l => l.Length > 0)];
        Assert.Equal(Set(whole), Set(parts));
        Assert.Equal(Set(SelfInstructor.RejectedPathFor(whole)), Set(SelfInstructor.RejectedPathFor(parts)));
        Assert.Equal(full.KeptTotal, second.KeptTotal);
    }

    [Fact]
    public void Shingle_similarity_separates_near_duplicates_at_the_threshold()
    {
        const string ship = "What is the name of the ship?", shipStory = "What is the name of the ship in the story?";
        const string red = "What is the password of the red fox?", blue = "What is the password of the blue fox?";
        Assert.Equal(5.0 / 8, QuestionDeduplicator.Similarity(ship, shipStory), 9);
        Assert.Equal(4.0 / 8, QuestionDeduplicator.Similarity(red, blue), 9);
        Assert.Equal(new[] { "what is the", "is the name", "the name of", "name of the", "of the ship" }.Order(StringComparer.Ordinal),
            QuestionDeduplicator.Shingles(ship).Order(StringComparer.Ordinal));
        Assert.Equal(["who"], QuestionDeduplicator.Shingles("Who?"));

        // 0.625 is just above 0.6 (default) and just below 0.65; 0.5 just below the default and at 0.5.
        var d = new QuestionDeduplicator();
        Assert.Equal(QuestionDeduplicator.DefaultThreshold, d.Threshold);
        Assert.Null(d.Add(ship));
        Assert.Equal(SelfInstructor.NearDuplicate, d.Add(shipStory));
        Assert.Equal(SelfInstructor.Duplicate, d.Add("what is THE name of the ship"));
        Assert.Null(d.Add(red));
        Assert.Null(d.Add(blue));
        Assert.Null(d.Add("Who?"));
        Assert.Equal(SelfInstructor.Duplicate, d.Add("who"));
        Assert.Null(d.Add("Why?"));
        Assert.Equal(5, d.Count);

        var looser = new QuestionDeduplicator(0.65);
        Assert.Null(looser.Add(ship));
        Assert.Null(looser.Add(shipStory));
        var stricter = new QuestionDeduplicator(0.5);
        Assert.Null(stricter.Add(red));
        Assert.Equal(SelfInstructor.NearDuplicate, stricter.Add(blue));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuestionDeduplicator(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuestionDeduplicator(1.5));
    }

    [SkippableFact]
    public async Task Near_duplicate_questions_are_counted_under_their_own_reason()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "near.jsonl");
        // Every question is "What does the passage say about the sea" plus a word of the item's own: 9 of 10 shingles shared.
        int n = 0;
        var teacher = new ScriptedTeacher(prompt => prompt.Contains("yes or no", StringComparison.Ordinal)
            ? "yes"
            : $"{{\"question\":\"What does the passage say about the sea and its waves number{Interlocked.Increment(ref n)}?\",\"answer\":\"the\"}}");
        var options = Options(docs, output) with { Kinds = [SelfInstructKind.Short], Concurrency = 1 };
        var report = await SelfInstructor.RunAsync(options, teacher);
        Assert.Equal(1, report.Kept);
        Assert.Equal(report.WorkItems - 1, report.Rejected[SelfInstructor.NearDuplicate]);
        Assert.Equal(0, report.Rejected[SelfInstructor.Duplicate]);
        Assert.All(Lines(SelfInstructor.RejectedPathFor(output)), l => Assert.Equal(SelfInstructor.NearDuplicate, (string)l["reason"]!));
        Assert.Contains("\"near-duplicate\"", File.ReadAllText(SelfInstructor.ReportPathFor(output)));

        // At threshold 1 only identical shingle sets count: all are kept.
        var loose = Path.Combine(_dir, "near-loose.jsonl");
        n = 0;
        var all = await SelfInstructor.RunAsync(options with { OutputPath = loose, NearDuplicateThreshold = 1 }, teacher);
        Assert.Equal(all.WorkItems, all.Kept);
    }

    [SkippableFact]
    public async Task Near_duplicate_questions_are_rejected_and_excluded_documents_never_used()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "dup.jsonl");
        // A teacher that asks the same question (up to case and punctuation) about everything, always supported.
        var teacher = new ScriptedTeacher(prompt => prompt.Contains("yes or no", StringComparison.Ordinal)
            ? "yes"
            : prompt.Contains("detailed", StringComparison.Ordinal) ? "{\"question\":\"What happens here??\",\"answer\":\"the\"}" : "{\"question\":\"what HAPPENS here\",\"answer\":\"the\"}");
        var report = await SelfInstructor.RunAsync(Options(docs, output) with { Exclude = ["dracula.txt", "tiny.txt"] }, teacher);
        Assert.Equal(3, report.Documents);
        Assert.Equal(["dracula.txt", "tiny.txt"], report.Excluded);
        Assert.Equal(1, report.Kept);
        Assert.Equal(report.WorkItems - 1, report.Rejected[SelfInstructor.Duplicate]);
        Assert.DoesNotContain(Lines(output).Concat(Lines(SelfInstructor.RejectedPathFor(output))), l => ((string)l["key"]!).StartsWith("dracula", StringComparison.Ordinal));
        await Assert.ThrowsAsync<ArgumentException>(() => SelfInstructor.RunAsync(Options(docs, output) with { Exclude = ["nothing.txt"] }, teacher));
    }

    [SkippableFact]
    public async Task Contamination_check_names_documents_that_share_long_passages_with_evaluation_inputs()
    {
        var docs = Documents(3000);
        var refs = Directory.CreateDirectory(Path.Combine(_dir, "leval")).FullName;
        var dracula = File.ReadAllText(Path.Combine(docs, "dracula.txt"));
        File.WriteAllText(Path.Combine(refs, "quality.jsonl"),
            new JsonObject { ["article"] = "Some other text. " + dracula.Substring(1000, 600) + " More.", ["question"] = "Why?" }.ToJsonString() + "\n");
        File.WriteAllText(Path.Combine(refs, "other.txt"), "Nothing in common with any of the books, just twelve words or so in a row here.");
        var output = Path.Combine(_dir, "contam.jsonl");
        var report = await SelfInstructor.RunAsync(Options(docs, output) with { ContaminationDirectory = refs, Kinds = [SelfInstructKind.Short] }, new RuleTeacher());
        var hit = Assert.Single(report.Contamination);
        Assert.Equal("dracula.txt", hit.Document);
        Assert.Equal("quality.jsonl", hit.Reference);
        Assert.InRange(hit.SharedNGrams, 50, 120);
        Assert.Contains("dracula.txt", File.ReadAllText(SelfInstructor.ReportPathFor(output)));
    }

    [SkippableFact]
    public async Task Transient_failures_are_retried_and_an_endpoint_that_keeps_failing_stops_the_run_cleanly()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "retry.jsonl");
        // The first two calls fail with 503 and a connection error: retried, and the run completes as without them.
        var flaky = new RuleTeacher
        {
            Fail = call => call switch
            {
                1 => new HttpRequestException("service unavailable", null, System.Net.HttpStatusCode.ServiceUnavailable),
                2 => new HttpRequestException("connection refused"),
                _ => null,
            },
        };
        var report = await SelfInstructor.RunAsync(Options(docs, output) with { Concurrency = 1 }, flaky);
        Assert.Equal(report.WorkItems, report.Kept + report.Rejected.Values.Sum());
        Assert.Equal(0, report.Rejected[SelfInstructor.TeacherError]);

        var dead = Path.Combine(_dir, "dead.jsonl");
        var e = await Assert.ThrowsAsync<SelfInstructTeacherException>(() =>
            SelfInstructor.RunAsync(Options(docs, dead) with { Retries = 2 }, new RuleTeacher { Fail = _ => new HttpRequestException("connection refused") }));
        Assert.Contains("3 attempt", e.Message);
        Assert.False(File.Exists(dead));
        Assert.False(File.Exists(SelfInstructor.RejectedPathFor(dead)));
    }

    [SkippableFact]
    public async Task Per_request_teacher_errors_are_counted_and_asked_again_on_the_next_run()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "errors.jsonl");
        var failing = new ScriptedTeacher(_ => throw new ArgumentException("prompt too long for this model"));
        var report = await SelfInstructor.RunAsync(Options(docs, output), failing);
        Assert.Equal(report.WorkItems, report.Rejected[SelfInstructor.TeacherError]);
        Assert.False(File.Exists(SelfInstructor.RejectedPathFor(output)));
        var second = await SelfInstructor.RunAsync(Options(docs, output), new RuleTeacher());
        Assert.Equal(0, second.Resumed);
        Assert.Equal(0, second.Rejected[SelfInstructor.TeacherError]);
        Assert.Equal(second.WorkItems, second.Kept + second.Rejected.Values.Sum());
    }

    [SkippableFact]
    public void Cli_local_teacher_without_a_chat_template_is_a_clear_error()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "local.jsonl");
        var (rc, stdout, stderr) = CliTests.Run(["data", "self-instruct", "--docs", docs, "-o", output, "-m", Fixtures.Path("models/llama-2-tiny-random.gguf"),
            "--chunk-tokens", "64", "--max-context", "512"]);
        Assert.True(rc == 2, $"rc {rc}: {stderr}{stdout}");
        Assert.Contains("--chat-template", stderr);
        Assert.False(File.Exists(output));
    }

    [SkippableFact]
    public async Task Output_feeds_finetune_directly()
    {
        var docs = Documents(2500);
        var tokPath = Fixtures.Path("models/tok512.bin");
        var tok = TokenizerLoader.Load(tokPath);
        var output = Path.Combine(_dir, "ft.jsonl");
        var report = await SelfInstructor.RunAsync(new SelfInstructOptions
        {
            Documents = [docs], OutputPath = output, Tokenizer = tok, ChunkTokens = 48, PairsPerDocument = 3, MaxContext = 256,
            Kinds = [SelfInstructKind.Short], Seed = 3,
        }, new RuleTeacher());
        Assert.True(report.Kept >= 3, $"kept {report.Kept}");
        Assert.Contains(Lines(output), l => (bool)l["document_truncated"]!);

        var config = new Elongate.Model.LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = tok.Vocabulary.Count, MaxPositionEmbeddings = 512,
        };
        var m = new Elongate.Training.LlamaTrainingModel<float>(config, 1, 8);
        m.InitializeRandom(3, std: 0.1);
        var model = Path.Combine(_dir, "base.gguf");
        GgufModelWriter.Save(model, m.ToModel("base"), GgufOutputType.F32, tok.Vocabulary);
        var run = Path.Combine(_dir, "ft-run");
        var (rc, stdout, stderr) = CliTests.Run(["finetune", "-m", model, "-d", output, "--chat-template", "chatml", "--seq-len", "384", "--loss", "answers+input",
            "--tokens-per-step", "768", "--epochs", "1", "--out", run]);
        Assert.True(rc == 0, stderr + stdout);
        Assert.True(File.Exists(Path.Combine(run, "model.gguf")));
        var data = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "data-report.json")))!;
        Assert.Equal("AnswersAndInput", data["loss"]!.ToString());
    }

    /// <summary>The rule teacher's reply to a stub request; in JSON mode a generation reply is the bare JSON object the endpoint would send.</summary>
    private static string RuleReply(RuleTeacher teacher, JsonObject request)
    {
        var prompt = ChatStubServer.Prompt(request);
        var text = teacher.GetResponseAsync([new Microsoft.Extensions.AI.ChatMessage(Microsoft.Extensions.AI.ChatRole.User, prompt)]).GetAwaiter().GetResult().Text;
        if (!ChatStubServer.AsksJson(request)) return text;
        return SelfInstructParser.ParsePair(text) is var (q, a)
            ? new JsonObject { ["question"] = q, ["answer"] = a }.ToJsonString()
            : new JsonObject { ["note"] = text }.ToJsonString();
    }

    private string[] StubArgs(string docs, ChatStubServer stub, string output) =>
        ["data", "self-instruct", "--docs", docs, "-o", output, "--endpoint", stub.Endpoint, "--remote-model", "stub", "-z", Fixtures.Path("tokenizers/tokenizer.bin"),
            "--chunk-tokens", "128", "--pairs-per-doc", "3", "--max-context", "700", "--retries", "0", "--seed", "5"];

    [SkippableFact]
    public void Cli_answer_length_flags_set_the_limits_of_short_and_long_answers()
    {
        var docs = Documents(3000);
        var teacher = new RuleTeacher();
        using var stub = new ChatStubServer(r => (200, RuleReply(teacher, r)));
        var output = Path.Combine(_dir, "lengths.jsonl");
        var (rc, stdout, stderr) = CliTests.Run([.. StubArgs(docs, stub, output), "--max-short-answer-tokens", "24", "--max-long-answer-tokens", "40"]);
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        var kept = Lines(output);
        Assert.NotEmpty(kept);
        foreach (var line in kept)
        {
            int tokens = Llama.Value.Encode((string)line["messages"]![1]!["content"]!, false, false).Length;
            Assert.True(tokens <= ((string)line["kind"]! == "short" ? 24 : 40), $"{line["key"]}: {tokens} answer tokens");
        }
        var details = Lines(SelfInstructor.RejectedPathFor(output)).Where(l => (string)l["reason"]! == SelfInstructor.Length).Select(l => (string)l["detail"]!).ToList();
        Assert.Contains(details, d => d.Contains("(max 24)", StringComparison.Ordinal));
        Assert.Contains(details, d => d.Contains("(max 40)", StringComparison.Ordinal));
        var report = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(output)))!;
        Assert.Equal(details.Count, (int)report["rejected"]!["length"]!);

        // The same run with the defaults (96 and 1024) rejects none of these answers for length.
        var defaults = Path.Combine(_dir, "lengths-default.jsonl");
        (rc, stdout, stderr) = CliTests.Run(StubArgs(docs, stub, defaults));
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        Assert.Equal(0, (int)JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(defaults)))!["rejected"]!["length"]!);
        Assert.True(Lines(defaults).Count > kept.Count);

        (rc, _, stderr) = CliTests.Run([.. StubArgs(docs, stub, Path.Combine(_dir, "zero.jsonl")), "--max-short-answer-tokens", "0"]);
        Assert.Equal(2, rc);
        Assert.Contains("--max-short-answer-tokens must be ≥ 1", stderr);
    }

    [SkippableFact]
    public void Cli_json_mode_asks_for_json_objects_in_generation_requests_only()
    {
        var docs = Documents(3000);
        var teacher = new RuleTeacher();
        using var stub = new ChatStubServer(r => (200, RuleReply(teacher, r)));
        var output = Path.Combine(_dir, "json.jsonl");
        var (rc, stdout, stderr) = CliTests.Run([.. StubArgs(docs, stub, output), "--json-mode"]);
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        Assert.Equal("", stderr);
        var requests = stub.Requests.ToList();
        var generation = requests.Where(r => !ChatStubServer.Prompt(r).Contains("yes or no", StringComparison.Ordinal)).ToList();
        var checks = requests.Except(generation).ToList();
        Assert.NotEmpty(generation);
        Assert.NotEmpty(checks);
        Assert.All(generation, r => Assert.Equal("{\"type\":\"json_object\"}", r["response_format"]!.ToJsonString()));
        Assert.All(checks, r => Assert.Null(r["response_format"]));
        var report = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(output)))!;
        Assert.Equal(generation.Count, (int)report["generated"]!);
        Assert.Equal(0, (int)report["json_mode_fallbacks"]!);
        Assert.True((int)report["kept"]! > 0);
        // Every kept answer came back as a bare JSON object: the rule teacher's bad replies arrive as {"note": …} and fail to parse.
        Assert.Equal(teacher.BadJson, (int)report["rejected"]!["parse"]!);

        // Without --json-mode no request carries response_format.
        using var plain = new ChatStubServer(r => (200, RuleReply(new RuleTeacher(), r)));
        (rc, stdout, stderr) = CliTests.Run(StubArgs(docs, plain, Path.Combine(_dir, "plain.jsonl")));
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        Assert.NotEmpty(plain.Requests);
        Assert.All(plain.Requests, r => Assert.Null(r["response_format"]));
    }

    [SkippableFact]
    public void Cli_json_mode_refused_by_the_endpoint_warns_once_and_falls_back_to_text_parsing()
    {
        var docs = Documents(3000);
        var teacher = new RuleTeacher();
        int refused = 0;
        using var stub = new ChatStubServer(r =>
        {
            if (r["response_format"] is not null)
            {
                Interlocked.Increment(ref refused);
                return (400, "Unrecognized request argument supplied: response_format");
            }
            return (200, RuleReply(teacher, r));
        });
        var output = Path.Combine(_dir, "refused.jsonl");
        var (rc, stdout, stderr) = CliTests.Run([.. StubArgs(docs, stub, output), "--json-mode", "--concurrency", "1"]);
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        var warning = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("data self-instruct: warning:", warning);
        Assert.Contains("response_format", warning);
        Assert.Contains("--json-mode", warning);
        // One request was refused, asked again without response_format, and JSON mode stayed off after it.
        Assert.Equal(1, refused);
        var report = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(output)))!;
        Assert.Equal(1, (int)report["json_mode_fallbacks"]!);
        Assert.Equal(0, (int)report["rejected"]!["teacher-error"]!);
        Assert.Equal((int)report["work_items"]!, (int)report["generated"]!);
        Assert.Equal((int)report["work_items"]!, (int)report["kept"]! + Lines(SelfInstructor.RejectedPathFor(output)).Count);

        // Text parsing gives the same set as a run that never asked for JSON.
        var plain = Path.Combine(_dir, "refused-plain.jsonl");
        using var stub2 = new ChatStubServer(r => (200, RuleReply(new RuleTeacher(), r)));
        (rc, stdout, stderr) = CliTests.Run([.. StubArgs(docs, stub2, plain), "--concurrency", "1"]);
        Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
        Assert.Equal(File.ReadAllLines(plain), File.ReadAllLines(output));
    }

    [SkippableFact]
    public void Cli_reports_an_unreachable_endpoint_in_one_line_and_writes_nothing()
    {
        var docs = Documents(3000);
        var output = Path.Combine(_dir, "cli.jsonl");
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // a port nothing listens on
        var (rc, stdout, stderr) = CliTests.Run(["data", "self-instruct", "--docs", docs, "-o", output, "--endpoint", $"http://127.0.0.1:{port}/v1",
            "--remote-model", "x", "-z", Fixtures.Path("tokenizers/tokenizer.bin"), "--retries", "0", "--chunk-tokens", "64", "--max-context", "512"]);
        Assert.True(rc == 4, $"rc {rc}: {stderr}{stdout}");
        Assert.StartsWith("data self-instruct: model server:", stderr);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.False(File.Exists(output));
    }

    [SkippableFact]
    public async Task Cli_reports_a_rejected_api_key_and_runs_end_to_end_against_a_served_model()
    {
        var docs = Directory.CreateDirectory(Path.Combine(_dir, "two")).FullName;
        foreach (var book in Books.Take(2))
        {
            var text = File.ReadAllText(Fixtures.Path("corpus/" + book));
            File.WriteAllText(Path.Combine(docs, book), text.Substring(text.Length / 2, 2500));
        }
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(1024), new ModelHostOptions { Slots = 2 }, new OpenAiServerOptions { ApiKey = "right-key" });
        var endpoint = new Uri(kit.Server.BaseAddress, "v1").ToString();
        var variable = "ELONGATE_TEST_SELFINSTRUCT_KEY";
        string[] common = ["data", "self-instruct", "--docs", docs, "--endpoint", endpoint, "--remote-model", "tiny", "--api-key-env", variable,
            "-z", Fixtures.Path("tokenizers/tokenizer.bin"), "--chunk-tokens", "48", "--max-context", "512", "--answers", "short", "--pairs-per-doc", "2",
            "--concurrency", "2", "--retries", "0"];
        try
        {
            Environment.SetEnvironmentVariable(variable, "wrong-key");
            var bad = Path.Combine(_dir, "bad.jsonl");
            var (rc, stdout, stderr) = CliTests.Run([.. common, "-o", bad]);
            Assert.True(rc == 4, $"rc {rc}: {stderr}{stdout}");
            Assert.Contains("401", stderr);
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.False(File.Exists(bad));

            Environment.SetEnvironmentVariable(variable, "right-key");
            var output = Path.Combine(_dir, "e2e.jsonl");
            (rc, stdout, stderr) = CliTests.Run([.. common, "-o", output]);
            Assert.True(rc == 0, $"rc {rc}: {stderr}{stdout}");
            var report = JsonNode.Parse(File.ReadAllText(SelfInstructor.ReportPathFor(output)))!;
            Assert.Equal(2, (int)report["documents"]!);
            Assert.Equal(4, (int)report["work_items"]!);
            Assert.Equal(4, (int)report["generated"]!);
            // A random model writes nonsense: every reply is rejected, and counted.
            Assert.Equal(4, (int)report["rejected"]!["parse"]!);
            Assert.Equal(0, (int)report["kept"]!);
            Assert.Equal(4, Lines(SelfInstructor.RejectedPathFor(output)).Count);
            Assert.Contains("rejected: parse", stdout);
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
        }
    }
}
