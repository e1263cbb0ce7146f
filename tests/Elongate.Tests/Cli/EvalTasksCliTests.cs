using System.Text.Json.Nodes;
using Elongate.Evaluation.Tasks;
using Elongate.Serving;
using Elongate.Tests.Evaluation.Tasks;
using Elongate.Tests.Serving;
using Elongate.Tokenization;

namespace Elongate.Tests.Cli;

/// <summary>`elongate eval tasks` end to end on stories260K: locally and through `elongate serve`, same answers both ways.</summary>
public sealed class EvalTasksCliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-evaltasks");

    public void Dispose() => _dir.Delete(true);

    private static string[] Tasks() =>
        ["--tasks", Fixtures.Path("benchmarks/leval/closed-ended/tpo.jsonl"), Fixtures.Path("benchmarks/leval/open-ended/financial_qa.jsonl")];

    private static readonly string[] Grid = ["--limit", "2", "--lengths", "256,512", "--max-input", "512", "--shots", "0,1"];

    [SkippableFact]
    public async Task Local_and_endpoint_runs_give_the_same_answers_and_scores()
    {
        var local = Path.Combine(_dir.FullName, "local");
        var (rc, stdout, stderr) = CliTests.Run(["eval", "tasks", .. Tasks(), .. Grid, "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin"), "--out", local]);
        Assert.True(rc == 0, stderr);
        Assert.Contains("overall (2 tasks)", stdout);
        Assert.Contains("financial_qa", stdout);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(local, TaskEvaluation.ReportFileName)))!;
        Assert.Equal(8, report["cells"]!.AsArray().Count);
        Assert.Equal(4, report["overall"]!.AsArray().Count);
        Assert.Equal(16, File.ReadAllLines(Path.Combine(local, TaskEvaluation.ResultsFileName)).Length);
        var png = File.ReadAllBytes(Path.Combine(local, TaskEvaluation.PlotFileName));
        Assert.Equal((byte)'P', png[1]);
        Assert.InRange(png.Length, 15_000, 3_000_000);
        Assert.Empty(Directory.GetFiles(local, "*.tmp*"));

        // A second run resumes everything.
        (rc, stdout, stderr) = CliTests.Run(["eval", "tasks", .. Tasks(), .. Grid, "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin"), "--out", local]);
        Assert.True(rc == 0, stderr);
        Assert.Contains("0 answered now, 16 from earlier runs", stdout);

        await using var kit = await ServerTestKit.StartAsync(TaskModelFixtures.Stories(), TaskModelFixtures.Tok512(),
            new ModelHostOptions { ModelName = "stories260K", Template = ChatTemplate.FromName("llama2") });
        var remote = Path.Combine(_dir.FullName, "remote");
        // The CLI is synchronous; run it off the test's thread so the in-process server keeps serving.
        (rc, stdout, stderr) = await Task.Run(() => CliTests.Run(["eval", "tasks", .. Tasks(), .. Grid, "--endpoint", new Uri(kit.Server.BaseAddress, "v1").ToString(), "--out", remote]));
        Assert.True(rc == 0, stderr);
        var mine = new TaskResultsFile(Path.Combine(local, TaskEvaluation.ResultsFileName)).Load();
        var theirs = new TaskResultsFile(Path.Combine(remote, TaskEvaluation.ResultsFileName)).Load();
        Assert.Equal(mine.Count, theirs.Count);
        for (int i = 0; i < mine.Count; i++)
        {
            Assert.Equal(mine[i].Key, theirs[i].Key);
            Assert.Equal(mine[i].Prediction, theirs[i].Prediction);
            Assert.Equal(mine[i].PromptTokens, theirs[i].PromptTokens);
            Assert.Equal(mine[i].Score, theirs[i].Score);
        }
        Assert.Contains(mine, r => r.Prediction.Length > 0);
        var remoteReport = JsonNode.Parse(File.ReadAllText(Path.Combine(remote, TaskEvaluation.ReportFileName)))!;
        Assert.Equal(report["overall"]!.AsArray().Select(o => (double)o!["score"]!), remoteReport["overall"]!.AsArray().Select(o => (double)o!["score"]!));
    }

    [SkippableFact]
    public void Chat_prompts_go_through_the_chat_template_and_leave_room_for_its_markup()
    {
        var model = new[] { "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin") };
        var task = new[] { "--tasks", Fixtures.Path("benchmarks/leval/closed-ended/coursera.jsonl"), "--limit", "2", "--lengths", "512", "--max-input", "512" };
        var raw = Path.Combine(_dir.FullName, "raw");
        var chat = Path.Combine(_dir.FullName, "chat");
        var (rc, _, err) = CliTests.Run(["eval", "tasks", .. task, .. model, "--out", raw]);
        Assert.True(rc == 0, err);
        (rc, _, err) = CliTests.Run(["eval", "tasks", .. task, .. model, "--chat", "--chat-template", "llama2", "--out", chat]);
        Assert.True(rc == 0, err);
        Assert.True((bool)JsonNode.Parse(File.ReadAllText(Path.Combine(chat, TaskEvaluation.ReportFileName)))!["chat"]!);
        var plain = new TaskResultsFile(Path.Combine(raw, TaskEvaluation.ResultsFileName)).Load();
        var templated = new TaskResultsFile(Path.Combine(chat, TaskEvaluation.ResultsFileName)).Load();
        // The chat reserve leaves less room for the document; the model counts the markup on top and still fits.
        Assert.All(templated.Zip(plain), p => Assert.True(p.First.KeptDocumentTokens < p.Second.KeptDocumentTokens));
        Assert.All(templated, r => Assert.True(r.Error is null && r.PromptTokens + 8 <= 512, $"{r.PromptTokens} prompt tokens"));
        // Changing --chat into the same folder is refused.
        (rc, _, err) = CliTests.Run(["eval", "tasks", .. task, .. model, "--out", chat]);
        Assert.Equal(2, rc);
        Assert.Contains("--chat True → False", err);
    }

    [SkippableFact]
    public void Bad_arguments_and_files_fail_with_a_clear_line()
    {
        var model = new[] { "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin") };
        var outDir = Path.Combine(_dir.FullName, "bad");
        var (rc, _, err) = CliTests.Run(["eval", "tasks", .. Tasks(), .. model, "--endpoint", "http://127.0.0.1:9/v1", "--out", outDir]);
        Assert.Equal(2, rc);
        Assert.Contains("either --model or --endpoint", err);

        (rc, _, err) = CliTests.Run(["eval", "tasks", .. Tasks(), .. model, "--lengths", "1024", "--max-input", "512", "--out", outDir]);
        Assert.Equal(2, rc);
        Assert.Contains("1024 exceeds --max-input 512", err);

        // A summary's 512-token answer budget does not fit a 256-token cap: refused before any question.
        (rc, _, err) = CliTests.Run(["eval", "tasks", "--tasks", Fixtures.Path("benchmarks/leval/open-ended/news_summ.jsonl"), .. model, "--lengths", "256", "--max-input", "512", "--out", outDir]);
        Assert.Equal(2, rc);
        Assert.Contains("news_summ", err);
        Assert.Contains("512-token answer budget", err);
        // Refused before the output folder is touched: the corrected command is not blocked by a stale run.json.
        Assert.False(File.Exists(Path.Combine(outDir, TaskEvaluation.SettingsFileName)));

        var broken = Path.Combine(_dir.FullName, "broken.jsonl");
        File.WriteAllText(broken, "{\"input\": \"d\", \"instructions\": [\"q\"], \"outputs\": [\"a\"], \"evaluation\": \"f1\"}\nnot json\n");
        (rc, _, err) = CliTests.Run(["eval", "tasks", "--tasks", broken, .. model, "--out", outDir]);
        Assert.Equal(1, rc);
        Assert.Contains("broken.jsonl", err);
        Assert.Contains("line 2", err);
    }

    [Fact]
    public void Write_prompts_writes_the_built_in_templates_to_edit()
    {
        var dir = Path.Combine(_dir.FullName, "prompts");
        var (rc, stdout, err) = CliTests.Run(["eval", "tasks", "--write-prompts", dir]);
        Assert.True(rc == 0, err);
        Assert.Equal(5, Directory.GetFiles(dir, "*.txt").Length);
        Assert.Contains("exam-choice.txt", stdout);
        Assert.Equal(TaskPrompts.Default.Fingerprint(), TaskPrompts.Load(dir).Fingerprint());
    }
}
