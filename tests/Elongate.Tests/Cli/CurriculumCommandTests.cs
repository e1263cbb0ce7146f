using System.Text.Json;
using System.Text.RegularExpressions;

namespace Elongate.Tests.Cli;

/// <summary>
/// `experiment curriculum` end to end on the hidden --smoke setting (every phase of --quick on smaller inputs, seconds).
/// No quality assertions: the report must be complete and consistent.
/// </summary>
public sealed class CurriculumCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-curriculum");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void Curriculum_smoke_writes_a_complete_report()
    {
        var outDir = Path.Combine(_dir.FullName, "out");
        var (rc, output, err) = CliTests.Run("experiment", "curriculum", "--smoke", "--out", outDir);
        Assert.True(rc == 0, err + output);
        Assert.Contains("train from scratch at 256 tokens", output);
        Assert.Contains("switch-80%: 8 steps at 32 tokens", output);
        Assert.Contains("retrieval mix:", output); // on by default
        Assert.True(File.Exists(Path.Combine(outDir, "data", "retrieval", "train.tokens")));

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var root = json.RootElement;
        Assert.Equal(Elongate.Rope.ScaledRopeBase.MatchLongestWavelength(32, 32), root.GetProperty("short_theta").GetDouble(), 1e-3);
        var runs = root.GetProperty("runs").EnumerateArray().ToArray();
        Assert.Equal(["scratch", "switch-20%", "switch-40%", "switch-80%"], runs.Select(r => r.GetProperty("variant").GetString()));
        foreach (var r in runs)
        {
            Assert.True(double.IsFinite(r.GetProperty("long_loss").GetDouble()));
            // Every curriculum trains the same tokens.
            Assert.Equal(10 * 512, r.GetProperty("stages").EnumerateArray().Sum(s => s.GetProperty("tokens").GetInt64()));
        }
        var summary = root.GetProperty("summary").EnumerateArray().ToArray();
        var ratios = summary.Select(s => s.GetProperty("flops_ratio").GetDouble()).ToArray();
        Assert.Equal(1.0, ratios[0]);
        Assert.True(ratios[1] > ratios[2] && ratios[2] > ratios[3], string.Join(", ", ratios));
        Assert.Contains("less compute", root.GetProperty("conclusion").GetString());

        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        var images = Regex.Matches(report, @"!\[[^\]]*\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToArray();
        Assert.Equal(["training-loss.png", "loss-vs-flops.png"], images);
        foreach (var img in images)
            Assert.True(File.ReadAllBytes(Path.Combine(outDir, img)).AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), img);
        Assert.Contains("## What this miniature can and cannot say", report);
        Assert.Contains("6·(N + d·V) + 12·L·T·d", report);
    }

    [Fact]
    public void Curriculum_rejects_bad_options_before_training()
    {
        var outDir = Path.Combine(_dir.FullName, "bad");
        var (rc, _, err) = CliTests.Run("experiment", "curriculum", "--smoke", "--switches", "0.5,1.5", "--out", outDir);
        Assert.NotEqual(0, rc);
        Assert.Contains("1.5", err);
        Assert.NotEqual(0, CliTests.Run("experiment", "curriculum", "--smoke", "--seeds", "1,x", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "curriculum", "--smoke", "--eval-corpus", Path.Combine(_dir.FullName, "missing"), "--out", outDir).Rc);
        Assert.False(Directory.Exists(Path.Combine(outDir, "runs")));
    }
}
