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

    /// <summary>Three synthetic training books (book0–2, 900 words) and one held-out book of <paramref name="heldWords"/> words in its own folder.</summary>
    private (string Books, string Held) Books(string prefix, string heldName, int heldWords)
    {
        var books = Directory.CreateDirectory(Path.Combine(_dir.FullName, $"{prefix}-train-books")).FullName;
        var held = Directory.CreateDirectory(Path.Combine(_dir.FullName, $"{prefix}-eval-books")).FullName;
        var synthetic = new Elongate.Data.SyntheticCorpus(9);
        for (int i = 0; i < 3; i++) File.WriteAllText(Path.Combine(books, $"book{i}.txt"), synthetic.Document(i, 900));
        File.WriteAllText(Path.Combine(held, heldName), synthetic.Document(20, heldWords));
        return (books, held);
    }

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
        // The base once, then every extension for each of the two seeds.
        Assert.Equal(["base", "rope", "pi", "abf", "xpos-abf", "rope", "pi", "abf", "xpos-abf"], variants.Select(v => v.GetProperty("name").GetString()));
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1], variants.Select(v => v.GetProperty("seed_index").GetInt32()));
        var summaries = root.GetProperty("summaries").EnumerateArray().ToArray();
        Assert.Equal([1, 2, 2, 2, 2], summaries.Select(v => v.GetProperty("seeds").GetInt32()));
        Assert.True(summaries[1].GetProperty("scores")[0].GetProperty("loss").GetProperty("spread").GetDouble() >= 0);
        Assert.Contains(root.GetProperty("claims").EnumerateArray(), c => c.GetProperty("claim").GetString()!.StartsWith("PI < RoPE"));
        // The scaled base: head dim 32 at 32 tokens keeps Llama 2's 13.28 wavelengths-per-context ratio.
        var theta = root.GetProperty("theta");
        Assert.True(theta.GetProperty("derived").GetBoolean());
        Assert.Equal(Elongate.Rope.ScaledRopeBase.MatchLongestWavelength(32, 32), theta.GetProperty("theta").GetDouble(), 1e-9);
        Assert.Equal(13.284, theta.GetProperty("wavelength_over_trained").GetDouble(), 0.001);
        Assert.Equal(new Elongate.Experiments.RopeAblationOptions { OutputDirectory = "x" }.RetrievalMix, root.GetProperty("retrieval_mix").GetProperty("share").GetDouble());
        Assert.True(root.GetProperty("retrieval_mix").GetProperty("base_documents").GetInt32() > 0);
        foreach (var v in variants)
        {
            var scores = v.GetProperty("scores").EnumerateArray().ToArray();
            Assert.Equal(lengths, scores.Select(s => s.GetProperty("length").GetInt32()));
            foreach (var s in scores) Assert.True(double.IsFinite(s.GetProperty("loss").GetDouble()));
            Assert.Equal(v.GetProperty("name").GetString() == "base" ? 32 : 256, v.GetProperty("trained_context").GetInt32()); // the paper's 8×
        }
        var ordering = root.GetProperty("long_context_ordering").EnumerateArray().ToArray();
        Assert.Equal([256], ordering.Select(o => o.GetProperty("length").GetInt32()));
        Assert.All(ordering, o => Assert.NotEqual(JsonValueKind.Null, o.GetProperty("matches_paper").ValueKind));
        Assert.False(string.IsNullOrWhiteSpace(root.GetProperty("conclusion").GetString()));
        Assert.True(root.GetProperty("phase_seconds").EnumerateObject().Count() >= 11);

        var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
        // Every run has its graded passkey row beside the exact-match one.
        Assert.Equal(Regex.Matches(report, @"\| passkey accuracy \|").Count, Regex.Matches(report, @"\| passkey digits \|").Count);
        Assert.Contains("| base | passkey digits |", report);
        var images = Regex.Matches(report, @"!\[[^\]]*\]\(([^)]+)\)").Select(m => m.Groups[1].Value).ToArray();
        Assert.Contains("loss-by-length.png", images);
        Assert.Contains("loss-xpos-abf.png", images);
        Assert.Contains("loss-xpos-abf-s1.png", images);
        Assert.Contains("rope-decay-relative.png", images);
        Assert.Contains("## The scaled RoPE base", report);
        Assert.Contains("## What this miniature can and cannot say", report);
        Assert.Contains("| rope/s1 |", report);
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
            Assert.Equal(["rope", "abf", "rope", "abf"], json.RootElement.GetProperty("variants").EnumerateArray().Select(v => v.GetProperty("name").GetString()));
            // Without PI the paper's ordering cannot be tested, and the result says so rather than guessing.
            Assert.All(json.RootElement.GetProperty("long_context_ordering").EnumerateArray(),
                o => Assert.Equal(JsonValueKind.Null, o.GetProperty("matches_paper").ValueKind));
        }
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--variants", "alibi", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", _dir.FullName, "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--tokens-per-step", "100", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--retrieval-mix", "1", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--seeds", "0", "--out", outDir).Rc);
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--theta", "1", "--out", outDir).Rc);
    }

    [Fact]
    public void Rope_ablation_takes_wider_heads_and_full_length_base_retrieval_documents()
    {
        // At 512 tokens the fixed parts of every kind fit (the smoke tokenizer's 300 pieces spend over 100 tokens on
        // the passkey's), so the drawn length decides each document's size: uniform from a quarter of 510 to 510
        // averages well under 510; full length puts every one near it.
        // The held-out book is long enough for the 8× probes (4,096 tokens).
        var (books, held) = Books("heads", "long.txt", 5000);
        string[] common = ["experiment", "rope-ablation", "--smoke", "--corpus", books, "--val-docs", "book2.txt", "--eval-corpus", held, "--vocab-size", "300",
            "--variants", "base", "--seq-len", "512", "--tokens-per-step", "4096"];
        double MeanLength(JsonElement root)
        {
            var mix = root.GetProperty("retrieval_mix");
            Assert.Equal(510, mix.GetProperty("base_max_length").GetInt32());
            return mix.GetProperty("base_tokens").GetDouble() / mix.GetProperty("base_documents").GetDouble();
        }
        var uniformDir = Path.Combine(_dir.FullName, "uniform");
        var (rc, output, err) = CliTests.Run([.. common, "--out", uniformDir]);
        Assert.True(rc == 0, err + output);
        using var uniform = JsonDocument.Parse(File.ReadAllText(Path.Combine(uniformDir, "results.json")));
        Assert.Contains("4 heads (head dim 32)", uniform.RootElement.GetProperty("model_summary").GetString());

        var fullDir = Path.Combine(_dir.FullName, "full");
        (rc, output, err) = CliTests.Run([.. common, "--heads", "2", "--base-retrieval-lengths", "full", "--retrieval-kinds", "passkey=1,first-sentence=1", "--out", fullDir]);
        Assert.True(rc == 0, err + output);
        using var full = JsonDocument.Parse(File.ReadAllText(Path.Combine(fullDir, "results.json")));
        Assert.Contains("2 heads (head dim 64)", full.RootElement.GetProperty("model_summary").GetString());
        // The scaled θ keeps the longest wavelength's ratio for the wider head, so it changes with the head size.
        Assert.Equal(64, full.RootElement.GetProperty("theta").GetProperty("head_dim").GetInt32());
        Assert.Equal(uniform.RootElement.GetProperty("theta").GetProperty("wavelength_over_trained").GetDouble(),
            full.RootElement.GetProperty("theta").GetProperty("wavelength_over_trained").GetDouble(), 6);
        Assert.True(MeanLength(full.RootElement) > 0.9 * 510, $"full-length documents average {MeanLength(full.RootElement):F1} tokens");
        Assert.True(MeanLength(uniform.RootElement) < 0.8 * 510, $"uniform documents average {MeanLength(uniform.RootElement):F1} tokens");
        // Longer documents put the passkey further from its question, and the report says how far each probe cell's key is.
        int Median(JsonElement root) => root.GetProperty("retrieval_mix").GetProperty("base_passkey_distances").GetProperty("median").GetInt32();
        Assert.True(Median(full.RootElement) > Median(uniform.RootElement), $"{Median(full.RootElement)} ≤ {Median(uniform.RootElement)}");
        var distances = full.RootElement.GetProperty("passkey_distances").EnumerateArray().ToList();
        Assert.NotEmpty(distances);
        Assert.All(distances, d => Assert.InRange(d.GetProperty("tokens").GetInt32(), 1, d.GetProperty("length").GetInt32() - 1));
        Assert.Contains("How far back the key sits in each passkey cell", File.ReadAllText(Path.Combine(fullDir, "report.md")));
        // --retrieval-kinds: only the kinds named are written.
        Assert.Equal(["FirstSentence", "Passkey"], full.RootElement.GetProperty("retrieval_mix").GetProperty("base_kinds").EnumerateObject().Select(p => p.Name).Order());
        // Every run carries the repeated-token copy test at each evaluated length (copy from half the window back).
        var copy = full.RootElement.GetProperty("variants")[0].GetProperty("scores").EnumerateArray().Select(x => x.GetProperty("repeated_tokens").GetDouble()).ToList();
        Assert.Equal(4, copy.Count);
        Assert.All(copy, c => Assert.InRange(c, 0, 1));
        Assert.Contains("| repeated-token copy |", File.ReadAllText(Path.Combine(fullDir, "report.md")));
        // Its chance is one over the tokenizer's normal pieces (not its whole vocabulary), and the report prints that.
        double chance = full.RootElement.GetProperty("repeated_tokens_chance").GetDouble();
        Assert.InRange(chance, 1.0 / 300, 1.0 / 2);
        Assert.Contains(chance.ToString("0.####", System.Globalization.CultureInfo.InvariantCulture) + " per copied token", File.ReadAllText(Path.Combine(fullDir, "report.md")));

        var bad = CliTests.Run([.. common, "--heads", "3", "--out", fullDir]);
        Assert.NotEqual(0, bad.Rc);
        Assert.Contains("--heads 3", bad.Out + bad.Err);
        Assert.NotEqual(0, CliTests.Run([.. common, "--heads", "128", "--out", fullDir]).Rc);
        Assert.NotEqual(0, CliTests.Run([.. common, "--base-retrieval-lengths", "half", "--out", fullDir]).Rc);
        bad = CliTests.Run([.. common, "--retrieval-kinds", "pass-key=1", "--out", fullDir]);
        Assert.NotEqual(0, bad.Rc);
        Assert.Contains("unknown kind 'pass-key'", bad.Out + bad.Err);
    }

    [Fact]
    public void Rope_ablation_keeps_the_old_setting_by_option_and_evaluates_on_a_separate_eval_corpus()
    {
        var (books, held) = Books("old", "other.txt", 900);
        var outDir = Path.Combine(_dir.FullName, "old-setting");
        var (rc, output, err) = CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", books, "--val-docs", "book2.txt", "--eval-corpus", held,
            "--theta", "10000", "--retrieval-mix", "0", "--seeds", "1", "--variants", "base,rope", "--vocab-size", "300", "--out", outDir);
        Assert.True(rc == 0, err + output);
        using (var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "results.json"))))
        {
            var root = json.RootElement;
            Assert.Equal(10000, root.GetProperty("theta").GetProperty("theta").GetDouble());
            Assert.False(root.GetProperty("theta").GetProperty("derived").GetBoolean());
            Assert.Equal(JsonValueKind.Null, root.GetProperty("retrieval_mix").ValueKind);
            Assert.Equal(Path.GetFullPath(held), root.GetProperty("eval_corpus").GetString());
            Assert.Equal(2, root.GetProperty("variants").GetArrayLength());
        }
        Assert.Contains("No retrieval mix", File.ReadAllText(Path.Combine(outDir, "report.md")));
        // The eval corpus may not be the training corpus, nor hold a training document.
        Assert.NotEqual(0, CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", books, "--eval-corpus", books, "--out", outDir).Rc);
        File.Copy(Path.Combine(books, "book0.txt"), Path.Combine(held, "book0.txt"));
        var bad = CliTests.Run("experiment", "rope-ablation", "--smoke", "--corpus", books, "--val-docs", "book2.txt", "--eval-corpus", held, "--vocab-size", "300", "--out", outDir);
        Assert.NotEqual(0, bad.Rc);
        Assert.Contains("also a training document", bad.Err + bad.Out);
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
