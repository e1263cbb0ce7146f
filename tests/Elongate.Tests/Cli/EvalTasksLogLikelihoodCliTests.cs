using System.Text.Json.Nodes;
using Elongate.Evaluation.Tasks;
using Elongate.Serving;
using Elongate.Tests.Evaluation.Tasks;
using Elongate.Tests.Serving;
using Elongate.Tokenization;

namespace Elongate.Tests.Cli;

/// <summary>`elongate eval tasks --mode loglikelihood` and `--compare` end to end on stories260K.</summary>
public sealed class EvalTasksLogLikelihoodCliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-evaltasks-ll");

    public void Dispose() => _dir.Delete(true);

    private static string[] Model() => ["-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin")];

    private static readonly string[] Grid = ["--limit", "3", "--lengths", "256,512", "--max-input", "512", "--mode", "loglikelihood"];

    /// <summary>A small TruthfulQA file and an ARC file (multiple-choice shapes, detected from their keys).</summary>
    private string[] ChoiceFiles()
    {
        var tqa = Path.Combine(_dir.FullName, "truthful.jsonl");
        File.WriteAllLines(tqa,
        [
            """{"question": "What do cats say?", "mc1_targets": {"choices": ["Cats say meow.", "Cats say woof."], "labels": [1, 0]}, "mc2_targets": {"choices": ["Cats say meow.", "Cats purr.", "Cats say woof."], "labels": [1, 1, 0]}}""",
            """{"question": "Where is the sun at night?", "mc1_targets": {"choices": ["On the other side of the Earth.", "In the sea."], "labels": [1, 0]}}""",
        ]);
        var arc = Path.Combine(_dir.FullName, "arc.jsonl");
        File.WriteAllLines(arc,
        [
            """{"question": "Lily had a red ball. What color was the ball?", "choices": {"text": ["red", "blue", "green"], "label": ["A", "B", "C"]}, "answerKey": "A"}""",
            """{"question": "Tom was sad. Then he got a toy. How did he feel?", "choices": {"text": ["happy", "sad", "sleepy"], "label": ["A", "B", "C"]}, "answerKey": "A"}""",
        ]);
        return [tqa, arc];
    }

    [SkippableFact]
    public async Task Local_and_endpoint_give_the_same_log_likelihoods()
    {
        string[] tasks = ["--tasks", Fixtures.Path("benchmarks/leval/closed-ended/tpo.jsonl"), .. ChoiceFiles()];
        var local = Path.Combine(_dir.FullName, "local");
        var (rc, stdout, stderr) = CliTests.Run(["eval", "tasks", .. tasks, .. Grid, "--shots", "0,1", .. Model(), "--out", local]);
        Assert.True(rc == 0, stderr);
        Assert.Contains("Log-likelihood multiple choice", stdout);
        Assert.Contains("multiple-choice files", stderr);
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(local, TaskEvaluation.ReportFileName)))!;
        // tpo: 2 lengths × 2 shots; arc: 2 shots; truthful: zero-shot only.
        Assert.Equal(7, report["multiple_choice"]!.AsArray().Count);
        var tqa = report["multiple_choice"]!.AsArray().Single(c => (string)c!["task"]! == "truthful")!;
        Assert.InRange((double)tqa["mc2"]!, 0, 1);
        Assert.Equal(3, (int)tqa["n"]!);   // two MC1 items and one MC2 item

        await using var kit = await ServerTestKit.StartAsync(TaskModelFixtures.Stories(), TaskModelFixtures.Tok512(),
            new ModelHostOptions { ModelName = "stories260K", Template = ChatTemplate.FromName("llama2") });
        var remote = Path.Combine(_dir.FullName, "remote");
        (rc, _, stderr) = await Task.Run(() => CliTests.Run(["eval", "tasks", .. tasks, .. Grid, "--shots", "0,1", "--endpoint", new Uri(kit.Server.BaseAddress, "v1").ToString(), "--out", remote]));
        Assert.True(rc == 0, stderr);
        var files = Directory.GetFiles(Path.Combine(local, MultipleChoiceTaskRunner.RecordsFolder)).Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(7, files.Length);
        Assert.Equal(files, Directory.GetFiles(Path.Combine(remote, MultipleChoiceTaskRunner.RecordsFolder)).Select(Path.GetFileName).Order());
        int compared = 0;
        foreach (var name in files)
        {
            var mine = MultipleChoiceRecordFile.Load(Path.Combine(local, MultipleChoiceTaskRunner.RecordsFolder, name!));
            var theirs = MultipleChoiceRecordFile.Load(Path.Combine(remote, MultipleChoiceTaskRunner.RecordsFolder, name!));
            Assert.Equal(mine.Keys.Order(), theirs.Keys.Order());
            foreach (var (id, r) in mine)
            {
                Assert.Equal(r.PromptHash, theirs[id].PromptHash);   // the same fitted prompt both ways
                // Local float32 logits vs the server's JSON-rounded log-probabilities: 1e-4 per choice.
                for (int i = 0; i < r.LogLikelihoods.Count; i++)
                    Assert.True(Math.Abs(r.LogLikelihoods[i] - theirs[id].LogLikelihoods[i]) <= 1e-4, $"{name} {id} choice {i}: {r.LogLikelihoods[i]} vs {theirs[id].LogLikelihoods[i]}");
                compared++;
            }
        }
        Assert.Equal(3 * 4 + 2 * 2 + 3, compared);
        var remoteReport = JsonNode.Parse(File.ReadAllText(Path.Combine(remote, TaskEvaluation.ReportFileName)))!;
        Assert.Equal(report["multiple_choice"]!.AsArray().Select(c => (double?)c!["acc"]), remoteReport["multiple_choice"]!.AsArray().Select(c => (double?)c!["acc"]));
    }

    [SkippableFact]
    public void Compare_writes_both_runs_and_the_paired_difference()
    {
        var outDir = Path.Combine(_dir.FullName, "cmp");
        string[] args = ["eval", "tasks", "--tasks", Fixtures.Path("benchmarks/leval/closed-ended/tpo.jsonl"), .. Grid, .. Model(), "-c", "512",
            "--compare", Fixtures.Path("models/stories260K.bin"), "--compare-tokenizer", Fixtures.Path("models/tok512.bin"), "--compare-context", "256", "--out", outDir];
        var (rc, stdout, stderr) = CliTests.Run(args);
        Assert.True(rc == 0, stderr);
        Assert.Contains("B − A", stdout);
        Assert.True(File.Exists(Path.Combine(outDir, "a", TaskEvaluation.ReportFileName)));
        Assert.True(File.Exists(Path.Combine(outDir, "b", TaskEvaluation.ReportFileName)));
        var cmp = JsonNode.Parse(File.ReadAllText(Path.Combine(outDir, TaskRunComparison.FileName)))!;
        var cells = cmp["cells"]!.AsArray();
        Assert.Equal(2, cells.Count);
        // At L=256 both models see the same 256-token prompts: identical scores, a zero difference and a [0, 0] interval.
        var same = cells.Single(c => (int)c!["length"]! == 256)!;
        Assert.Equal(3, (int)same["n"]!);
        Assert.Equal(0.0, (double)same["difference"]!);
        Assert.Equal((0.0, 0.0), ((double)same["lower"]!, (double)same["upper"]!));
        var longer = cells.Single(c => (int)c!["length"]! == 512)!;
        Assert.Equal((double)longer["score_b"]! - (double)longer["score_a"]!, (double)longer["difference"]!, 12);
        Assert.InRange((double)longer["difference"]!, (double)longer["lower"]!, (double)longer["upper"]!);

        // Rerunning resumes both sides.
        (rc, stdout, stderr) = CliTests.Run(args);
        Assert.True(rc == 0, stderr);
        Assert.Contains("model A: 0 answered now, 6 from earlier runs", stdout);
        Assert.Contains("model B: 0 answered now, 6 from earlier runs", stdout);
    }

    [SkippableFact]
    public void A_bad_multiple_choice_line_is_named_with_its_line_number()
    {
        var bad = Path.Combine(_dir.FullName, "quiz.jsonl");
        File.WriteAllLines(bad,
        [
            """{"question": "1 + 1?", "choices": ["2", "3"], "gold": 0}""",
            """{"question": "2 + 2?", "choices": ["4", "5"], "gold": 0}""",
            """{"question": "3 + 3?", "gold": 0}""",
        ]);
        var (rc, _, err) = CliTests.Run(["eval", "tasks", "--tasks", bad, .. Model(), "--out", Path.Combine(_dir.FullName, "bad")]);
        Assert.Equal(1, rc);
        Assert.Contains("quiz.jsonl", err);
        Assert.Contains("line 3", err);
        Assert.Contains("choices", err);
        Assert.False(Directory.Exists(Path.Combine(_dir.FullName, "bad")));

        (rc, _, err) = CliTests.Run(["eval", "tasks", "--tasks", bad, .. Model(), "--mode", "sample", "--out", Path.Combine(_dir.FullName, "bad")]);
        Assert.Equal(2, rc);
        Assert.Contains("--mode must be generate or loglikelihood", err);
    }
}
