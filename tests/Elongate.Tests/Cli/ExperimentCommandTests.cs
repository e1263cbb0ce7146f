using System.Text.Json;
using System.Text.RegularExpressions;
using Elongate.Formats;

namespace Elongate.Tests.Cli;

/// <summary>
/// `experiment rope-ablation` end to end on the hidden --smoke setting (every phase of --quick on smaller inputs,
/// ≈ 5 s; --quick itself takes ≈ 1 minute). No quality assertions: the report must be complete and consistent.
/// </summary>
public sealed class ExperimentCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-ablation");

    public void Dispose() => _dir.Delete(true);

    [Fact]
    public void Rope_ablation_smoke_writes_a_complete_report()
    {
        var outDir = Path.Combine(_dir.FullName, "out");
        var (rc, output, err) = CliTests.Run("experiment", "rope-ablation", "--smoke", "--out", outDir);
        Assert.True(rc == 0, err + output);
        Assert.Contains("phase: pretrain base", output);
        Assert.Contains("phase: extend pi", output);
        Assert.Matches(@"step \d+/\d+ loss", output);

        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json")));
        var root = json.RootElement;
        var lengths = root.GetProperty("lengths").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal([32, 64, 128, 256], lengths);
        var variants = root.GetProperty("variants").EnumerateArray().ToArray();
        Assert.Equal(["base", "rope", "pi", "abf", "xpos-abf"], variants.Select(v => v.GetProperty("name").GetString()));
        foreach (var v in variants)
        {
            var scores = v.GetProperty("scores").EnumerateArray().ToArray();
            Assert.Equal(lengths, scores.Select(s => s.GetProperty("length").GetInt32()));
            foreach (var s in scores) Assert.True(double.IsFinite(s.GetProperty("loss").GetDouble()));
            Assert.Equal(v.GetProperty("name").GetString() == "base" ? 32 : 128, v.GetProperty("trained_context").GetInt32());
        }
        var ordering = root.GetProperty("long_context_ordering").EnumerateArray().ToArray();
        Assert.Equal([128, 256], ordering.Select(o => o.GetProperty("length").GetInt32()));
        Assert.All(ordering, o => Assert.NotEqual(JsonValueKind.Null, o.GetProperty("matches_paper").ValueKind));
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("conclusion").GetString()));
        Assert.True(root.GetProperty("phase_seconds").EnumerateObject().Count() >= 11);

        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        var images = Regex.Matches(report, @"!\[[^\]]*\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToArray();
        Assert.Contains("loss-by-length.png", images);
        Assert.Contains("loss-xpos-abf.png", images);
        foreach (var img in images)
        {
            var bytes = File.ReadAllBytes(Path.Combine(outDir, img));
            Assert.True(bytes.AsSpan().StartsWith(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }), img);
        }
        foreach (var v in new[] { "base", "rope", "pi", "abf", "xpos-abf" }) Assert.Contains($"| {v} |", report);
        Assert.Contains("## Wall time", report);
    }

    [Fact]
    public void Rope_ablation_runs_a_subset_of_variants_and_rejects_bad_options()
    {
        var outDir = Path.Combine(_dir.FullName, "subset");
        var (rc, output, err) = CliTests.Run("experiment", "rope-ablation", "--smoke", "--variants", "rope,abf", "--out", outDir);
        Assert.True(rc == 0, err + output);
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json"))))
        {
            Assert.Equal(["rope", "abf"], json.RootElement.GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("name").GetString()));
            // Without PI the paper's ordering cannot be tested, and the result says so rather than guessing.
            Assert.All(json.RootElement.GetProperty("long_context_ordering").EnumerateArray(),
                o => Assert.Equal(JsonValueKind.Null, o.GetProperty("matches_paper").ValueKind));
        }
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--variants", "alibi", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", _dir.FullName, "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--tokens-per-step", "100", "--out", outDir).Rc);
    }

    [Fact]
    public void Rope_ablation_on_a_corpus_without_a_tokenizer_learns_one_from_the_training_books_only()
    {
        var books = Directory.CreateDirectory(Path.Combine(_dir.FullName, "books")).FullName;
        var synthetic = new Elongate.Data.SyntheticCorpus(5);
        for (int i = 0; i < 3; i++) File.WriteAllText(Path.Combine(books, $"book{i}.txt"), synthetic.Document(i, 900));
        File.WriteAllText(Path.Combine(books, "zz-held.txt"), synthetic.Document(7, 900) + " Жёщ Жёщ Жёщ");
        var outDir = Path.Combine(_dir.FullName, "corpus-run");
        var (rc, output, err) = CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", books, "--val-docs", "zz-held.txt",
            "--variants", "base,abf", "--vocab-size", "320", "--out", outDir);
        Assert.True(rc == 0, err + output);
        var tok = Elongate.Formats.TokenizerLoader.Load(Path.Combine(outDir, "data", "tokenizer.bin"));
        Assert.Equal(320, tok.Vocabulary.Count);
        Assert.DoesNotContain("Ж", tok.Vocabulary.Pieces);
        Assert.Contains("shuffled in 4096-token chunks", File.ReadAllText(Path.Combine(outDir, "report.md")));
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", books, "--tokenizer", Path.Combine(outDir, "data", "tokenizer.bin"),
            "--vocab-size", "300", "--out", outDir).Rc);
    }
}
