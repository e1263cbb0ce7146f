using System.Buffers.Binary;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Formats;

namespace Elongate.Tests.Cli;

/// <summary>
/// Every `eval` command end to end on stories260K with tiny grids: exit code 0, a results.json with the expected
/// fields, a real PNG of the plotted size, and a table on stdout.
/// </summary>
public sealed class EvalCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-eval");

    public void Dispose() => _dir.Delete(true);

    private static string[] Model() => ["-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin")];

    /// <summary>Held-out stories: the model's own samples (temperature 1, four seeds) as a .jsonl file.</summary>
    private string Stories()
    {
        var path = Path.Combine(_dir.FullName, "stories.jsonl");
        var lines = new List<string>();
        for (int seed = 1; seed <= 4; seed++)
        {
            var (rc, text, _) = CliTests.Run([.. "generate".Split(' '), .. Model(), "-t", "1", "--seed", seed.ToString(), "-n", "400"]);
            Assert.Equal(0, rc);
            lines.Add(JsonSerializer.Serialize(new { text = text.Trim() }));
        }
        File.WriteAllLines(path, lines);
        return path;
    }

    private static JsonNode ReadResults(string dir, string task)
    {
        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "results.json")))!;
        Assert.Equal(task, (string)json["task"]!);
        Assert.EndsWith("stories260K.bin", (string)json["model"]!);
        Assert.Equal(512, (int)json["trained_context"]!);
        Assert.Equal(10000.0, (double)json["rope_theta"]!);
        Assert.Empty(Directory.GetFiles(dir, "*.tmp*", SearchOption.AllDirectories));
        return json["report"]!;
    }

    /// <summary>PNG signature, an IHDR of the plot's size, and a size that a rendered chart (not an empty image) has.</summary>
    private static void AssertPng(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        Assert.Equal(1100, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        Assert.Equal(700, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20)));
        Assert.InRange(bytes.Length, 15_000, 3_000_000);
    }

    [SkippableFact]
    public void Loss_writes_lengths_buckets_fits_json_table_and_png()
    {
        var data = Stories();
        var outDir = Path.Combine(_dir.FullName, "loss");
        var (rc, output, err) = CliTests.Run(["eval", "loss", .. Model(), "--data", data, "--lengths", "16,32,64", "--out", outDir]);
        Assert.True(rc == 0, err);
        var report = ReadResults(outDir, "loss");
        var lengths = report["lengths"]!.AsArray();
        Assert.Equal(new[] { 16, 32, 64 }, lengths.Select(l => (int)l!["length"]!));
        foreach (var l in lengths)
        {
            double loss = (double)l!["mean_loss"]!;
            Assert.InRange(loss, 0.3, 4.0);   // the model's own samples: far below ln 512 = 6.24
            Assert.Equal(Math.Exp(loss), (double)l["perplexity"]!, 9);
            Assert.Equal((long)l["scored_tokens"]!, l["buckets"]!.AsArray().Sum(b => (long)b!["tokens"]!));
        }
        // Three lengths and ≥ 3 buckets: both fits are made, with finite parameters and a goodness of fit.
        foreach (var name in new[] { "by_position", "by_length" })
        {
            var fit = report[name]!;
            Assert.Null(fit["why_not"]);
            foreach (var p in new[] { "alpha", "beta", "gamma", "r_squared", "rmse" })
                Assert.True(double.IsFinite((double)fit["fit"]![p]!), $"{name}.{p}");
        }
        // Loss falls with context on the model's own text: the first bucket is worse than the longest length's mean.
        Assert.True((double)lengths[2]!["buckets"]![0]!["mean_loss"]! > (double)lengths[2]!["mean_loss"]!);
        Assert.Contains("perplexity", output);
        Assert.Contains("power-law fit", output);
        Assert.Contains("loss length 64", err);
        AssertPng(Path.Combine(outDir, "loss.png"));

        // Two lengths: no per-length fit, and the JSON says why; a stride, a window cap and a token shard work too.
        var shard = Path.Combine(_dir.FullName, "held.tokens");
        var tok = Elongate.Formats.TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512);
        using (var w = new Elongate.Data.TokenShardWriter(shard, 512))
        {
            foreach (var line in File.ReadAllLines(data)) w.Add(tok.Encode(JsonNode.Parse(line)!["text"]!.GetValue<string>(), true, false));
            w.Complete();
        }
        (rc, _, err) = CliTests.Run(["eval", "loss", .. Model(), "--data", shard, "--lengths", "32,64", "--stride", "16", "--max-windows", "3", "--out", outDir]);
        Assert.True(rc == 0, err);
        report = ReadResults(outDir, "loss");
        Assert.Contains("needs at least three lengths", (string)report["by_length"]!["why_not"]!);
        Assert.Null(report["by_length"]!["fit"]);
        Assert.All(report["lengths"]!.AsArray(), l => Assert.Equal(3, (int)l!["windows"]!));
        Assert.Equal(16, (int)report["stride"]!);
    }

    [SkippableFact]
    public void Passkey_writes_a_lengths_by_depths_grid()
    {
        var outDir = Path.Combine(_dir.FullName, "passkey");
        var (rc, output, err) = CliTests.Run(["eval", "passkey", .. Model(), "--lengths", "192,256", "--depths", "0,0.5,1", "--trials", "2", "--seed", "7", "--out", outDir]);
        Assert.True(rc == 0, err);
        var report = ReadResults(outDir, "passkey");
        var cells = report["cells"]!.AsArray();
        Assert.Equal(6, cells.Count);
        Assert.Equal(256 + 10, (int)report["context_length"]!);
        foreach (var cell in cells)
        {
            var trials = cell!["trials"]!.AsArray();
            Assert.Equal(2, trials.Count);
            Assert.InRange((double)cell["score"]!, 0, 1);
            foreach (var t in trials)
            {
                Assert.Matches("^[1-9][0-9]{4}$", (string)t!["expected"]!);
                Assert.InRange((int)t["prompt_tokens"]!, (int)cell["length"]! - 40, (int)cell["length"]!);   // within one filler block (~37 tokens in tok512)
                Assert.Equal(Elongate.Evaluation.PasskeyProbe.IsCorrect((string)t["generated"]!, int.Parse((string)t["expected"]!)) ? 1.0 : 0.0, (double)t["score"]!);
            }
        }
        // Trial t has the same key in every cell.
        Assert.All(cells, c => Assert.Equal((string)cells[0]!["trials"]![1]!["expected"]!, (string)c!["trials"]![1]!["expected"]!));
        Assert.Contains("passkey accuracy", output);
        Assert.Contains("[6/6]", err);
        AssertPng(Path.Combine(outDir, "passkey.png"));

        (rc, _, err) = CliTests.Run(["eval", "passkey", .. Model(), "--lengths", "64", "--out", outDir]);
        Assert.Equal(2, rc);
        Assert.Contains("shorter than the prompt without filler", err);
    }

    [SkippableFact]
    public void First_sentence_scores_rouge_over_lengths()
    {
        var data = Stories();
        var outDir = Path.Combine(_dir.FullName, "first");
        var (rc, output, err) = CliTests.Run(["eval", "first-sentence", .. Model(), "--data", data, "--lengths", "64,128", "--trials", "2", "--out", outDir]);
        Assert.True(rc == 0, err);
        var report = ReadResults(outDir, "first-sentence");
        var cells = report["cells"]!.AsArray();
        Assert.Equal(new[] { 64, 128 }, cells.Select(c => (int)c!["length"]!));
        foreach (var cell in cells)
        {
            Assert.Null(cell!["depth"]);
            foreach (var t in cell["trials"]!.AsArray())
            {
                string expected = (string)t!["expected"]!;
                Assert.Matches(@"[.!?]$", expected);
                Assert.Equal(Elongate.Evaluation.RougeL.Score(expected, (string)t["generated"]!).FMeasure, (double)t["score"]!, 12);
                Assert.InRange((int)t["prompt_tokens"]!, (int)cell["length"]! - 8, (int)cell["length"]!);
            }
        }
        Assert.Contains("mean ROUGE-L", output);
        AssertPng(Path.Combine(outDir, "first_sentence.png"));
    }

    [SkippableFact]
    public void Needle_scores_normalized_match_over_lengths_and_depths()
    {
        var data = Stories();
        var outDir = Path.Combine(_dir.FullName, "needle");
        var (rc, output, err) = CliTests.Run(["eval", "needle", .. Model(), "--haystack", data, "--lengths", "128,192", "--depths", "0,1",
            "--needle", "The secret animal is a purple cat.", "--question", "What is the secret animal?", "--answer", "a purple cat", "--out", outDir]);
        Assert.True(rc == 0, err);
        var report = ReadResults(outDir, "needle");
        var cells = report["cells"]!.AsArray();
        Assert.Equal(4, cells.Count);
        foreach (var cell in cells)
        {
            var t = cell!["trials"]![0]!;
            Assert.Equal("a purple cat", (string)t["expected"]!);
            Assert.Equal(Elongate.Evaluation.AnswerMatch.Score("a purple cat", (string)t["generated"]!), (double)t["score"]!, 12);
            Assert.InRange((int)t["prompt_tokens"]!, (int)cell["length"]! - 8, (int)cell["length"]!);
        }
        Assert.Equal("The secret animal is a purple cat.", (string)report["settings"]!["needle"]!);
        Assert.Contains("needle: normalized match", output);
        AssertPng(Path.Combine(outDir, "needle.png"));

        (rc, _, err) = CliTests.Run(["eval", "needle", .. Model(), "--haystack", data, "--lengths", "128", "--depths", "1.5", "--out", outDir]);
        Assert.Equal(2, rc);
        Assert.Contains("--depths", err);
    }
}
