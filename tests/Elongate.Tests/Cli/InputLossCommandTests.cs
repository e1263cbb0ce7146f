using System.Text.Json;
using System.Text.RegularExpressions;

namespace Elongate.Tests.Cli;

/// <summary>
/// `experiment input-loss` end to end on the hidden --smoke setting (every phase of --quick on smaller inputs, seconds):
/// base trained and extended, self-instruct, two tunings, three harness runs, the comparison. No quality assertions:
/// the report must be complete and consistent, and the two tunings must differ only in their loss tokens.
/// </summary>
public sealed class InputLossCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-inputloss");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void Input_loss_smoke_writes_a_complete_report()
    {
        var outDir = Path.Combine(_dir.FullName, "out");
        var (rc, output, err) = CliTests.Run("experiment", "input-loss", "--smoke", "--out", outDir);
        Assert.True(rc == 0, err + output);
        Assert.Contains("phase: extend to 512 tokens with ABF θ 500000", output);
        Assert.Contains("instruction-tune with loss on answers+input", output);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var root = json.RootElement;
        var models = root.GetProperty("models").EnumerateArray().ToArray();
        Assert.Equal(["base", "answers", "answers+input"], models.Select(m => m.GetProperty("name").GetString()));
        // Documents are sized so the harness never cuts one (and so never cuts a fact out).
        Assert.All(models, m => Assert.Equal(0, m.GetProperty("truncated").GetInt32()));
        // The same examples and tokens, more of them carrying loss with the input.
        Assert.Equal(models[1].GetProperty("tokens").GetInt64(), models[2].GetProperty("tokens").GetInt64());
        Assert.Equal(models[1].GetProperty("examples").GetInt32(), models[2].GetProperty("examples").GetInt32());
        Assert.True(models[2].GetProperty("loss_tokens").GetInt64() > 2 * models[1].GetProperty("loss_tokens").GetInt64());
        foreach (var m in models)
        {
            Assert.Equal(6, m.GetProperty("scores").GetArrayLength());
            Assert.True(m.GetProperty("lower").GetDouble() <= m.GetProperty("score").GetDouble());
            Assert.True(m.GetProperty("score").GetDouble() <= m.GetProperty("upper").GetDouble());
        }
        Assert.Equal(6, root.GetProperty("difference").GetProperty("n").GetInt32());
        Assert.Contains("Loss on long input helps long tasks:", root.GetProperty("conclusion").GetString());
        Assert.True(root.GetProperty("self_instruct").GetProperty("kept").GetInt32() > 0);
        // The harness wrote its own results for each model.
        foreach (var m in new[] { "base", "answers", "answers-input" })
            Assert.Equal(6, File.ReadAllLines(Path.Combine(outDir, "eval", m, "results.jsonl")).Length);

        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        Assert.Contains("## What this miniature can and cannot say", report);
        Assert.Contains("| answers+input |", report);
        foreach (var img in Regex.Matches(report, @"!\[[^\]]*\]\(([^)]+)\)").Select(m => m.Groups[1].Value))
            Assert.True(File.ReadAllBytes(Path.Combine(outDir, img)).AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), img);

        // -m: the extended model of that run (its run folder), tuned and evaluated without training a base.
        var again = Path.Combine(_dir.FullName, "given");
        var (rc2, output2, err2) = CliTests.Run("experiment", "input-loss", "--smoke", "-m", Path.Combine(outDir, "runs", "extended"), "--out", again);
        Assert.True(rc2 == 0, err2 + output2);
        Assert.Contains("[1/6] phase: load", output2);
        Assert.DoesNotContain("pretrain the base", output2);
        using var json2 = JsonDocument.Parse(File.ReadAllText(Path.Combine(again, "results.json")));
        Assert.StartsWith("given: ", json2.RootElement.GetProperty("base_model").GetString());
        Assert.Equal(3, json2.RootElement.GetProperty("models").GetArrayLength());
    }

    [Fact]
    public void Input_loss_rejects_bad_options_before_training()
    {
        var outDir = Path.Combine(_dir.FullName, "bad");
        var (rc, _, err) = CliTests.Run("experiment", "input-loss", "--smoke", "--model", Path.Combine(_dir.FullName, "missing.gguf"), "--out", outDir);
        Assert.NotEqual(0, rc);
        Assert.Contains("missing.gguf", err);
        Assert.NotEqual(0, CliTests.Run("experiment", "input-loss", "--smoke", "--test-docs", "1", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "input-loss", "--smoke", "--train-docs", "2000", "--out", outDir).Rc);
        Assert.False(Directory.Exists(Path.Combine(outDir, "runs")));
    }
}
