using Elongate.Data;
using Elongate.Formats;
using Elongate.Tests.Cli;
using Elongate.Tests.Training;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Tests.Data;

/// <summary>
/// `data prepare`: what goes into the shards is exactly each document's text framed by BOS and EOS, the split keeps
/// documents whole, and a bad .jsonl line is reported by file and line.
/// </summary>
public sealed class CorpusPreparerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-prepare").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static List<int[]> Docs(string path)
    {
        using var shard = TokenShard.Open(path);
        return Enumerable.Range(0, shard.DocumentCount).Select(shard.ReadDocument).ToList();
    }

    [Fact]
    public void Txt_and_jsonl_documents_decode_back_to_their_text_framed_by_bos_and_eos()
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var tok = TokenizerLoader.Load(tokPath);
        string a = TrainingTestData.Document(0), b = TrainingTestData.Document(1), c = TrainingTestData.Document(2);
        File.WriteAllText(Path.Combine(_dir, "a.txt"), a);
        File.WriteAllText(Path.Combine(_dir, "b.txt"), b.Replace("\n", "\r\n"));   // Windows line ends read as "\n"
        string[] lines = ["first line document", "second, with \"quotes\" and\nnewline", "third"];
        File.WriteAllLines(Path.Combine(_dir, "c.jsonl"), [
            System.Text.Json.JsonSerializer.Serialize(new { text = lines[0] }),
            "",
            System.Text.Json.JsonSerializer.Serialize(new { id = "x7", text = lines[1] }),
            System.Text.Json.JsonSerializer.Serialize(new { text = lines[2], extra = 3 }),
        ]);
        File.WriteAllText(Path.Combine(_dir, "d.txt"), c);
        var outDir = Path.Combine(_dir, "data");
        var report = CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tokPath, OutputDirectory = outDir,
            Inputs = new[] { "a.txt", "b.txt", "c.jsonl", "d.txt" }.Select(f => Path.Combine(_dir, f)).ToArray(),
            ValidationDocuments = ["b.txt", "c.jsonl:x7"],
        });

        var train = Docs(Path.Combine(outDir, CorpusPreparer.TrainFile));
        var val = Docs(Path.Combine(outDir, CorpusPreparer.ValidationFile));
        string[] trainTexts = [a, lines[0], lines[2], c];
        string[] valTexts = [b, lines[1]];
        Assert.Equal(trainTexts.Length, train.Count);
        Assert.Equal(valTexts.Length, val.Count);
        foreach (var (ids, text) in train.Zip(trainTexts).Concat(val.Zip(valTexts)))
        {
            Assert.Equal(1, ids[0]);
            Assert.Equal(2, ids[^1]);
            Assert.Equal(tok.Encode(text, addBos: true, addEos: true), ids);
            Assert.Equal(text, tok.Decode(ids));
        }

        Assert.Equal(TrainingTestData.VocabSize, report.VocabSize);
        Assert.Equal(train.Sum(d => (long)d.Length), report.Train.Tokens);
        Assert.Equal(val.Sum(d => (long)d.Length), report.Validation.Tokens);
        Assert.Equal(val.Max(d => d.Length), report.Validation.Max);
        Assert.Equal([1L, 1, 3, 1], report.Sources.Select(s => s.Documents));
        Assert.Equal([0L, 1, 1, 0], report.Sources.Select(s => s.ValidationDocuments));
        var loaded = CorpusReport.Load(outDir);
        Assert.Equal(report.Train, loaded.Train with { Histogram = report.Train.Histogram });
        Assert.Equal(report.Train.Histogram, loaded.Train.Histogram);
        Assert.Equal("tokenizer.bin", loaded.TokenizerCopy);
        Assert.Equal(tok.Vocabulary.Pieces, loaded.LoadTokenizer(outDir).Vocabulary.Pieces);
    }

    [Fact]
    public void Hashed_split_holds_out_whole_documents_as_document_split_decides()
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var jsonl = Path.Combine(_dir, "many.jsonl");
        var texts = Enumerable.Range(0, 60).Select(i => TrainingTestData.Document(i, 30)).ToArray();
        File.WriteAllLines(jsonl, texts.Select(t => System.Text.Json.JsonSerializer.Serialize(new { text = t })));
        var outDir = Path.Combine(_dir, "data");
        var report = CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tokPath, Inputs = [jsonl], OutputDirectory = outDir, ValidationFraction = 0.25, Seed = 9, MinDocumentTokens = 0,
        });
        var tok = TokenizerLoader.Load(tokPath);
        var expectVal = Enumerable.Range(0, 60).Where(i => DocumentSplit.IsValidation($"many.jsonl:{i + 1}", 0.25, 9)).ToArray();
        Assert.InRange(expectVal.Length, 5, 25);
        var val = Docs(Path.Combine(outDir, CorpusPreparer.ValidationFile)).Select(d => tok.Decode(d)).ToArray();
        var train = Docs(Path.Combine(outDir, CorpusPreparer.TrainFile)).Select(d => tok.Decode(d)).ToArray();
        Assert.Equal(expectVal.Select(i => texts[i]), val);
        Assert.Equal(Enumerable.Range(0, 60).Except(expectVal).Select(i => texts[i]), train);
        Assert.Equal(0.25, report.ValidationFraction);
    }

    [Fact]
    public void Min_doc_tokens_skips_short_documents()
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var jsonl = Path.Combine(_dir, "s.jsonl");
        File.WriteAllLines(jsonl, ["{\"text\":\"hi\"}", "{\"text\":\"" + TrainingTestData.Document(1, 40).Replace("\n", " ") + "\"}", "{\"text\":\"\"}"]);
        var report = CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tokPath, Inputs = [jsonl], OutputDirectory = Path.Combine(_dir, "o"), ValidationFraction = 0, MinDocumentTokens = 10,
        });
        Assert.Equal(1, report.Train.Documents);
        Assert.Equal(2, report.Sources[0].Skipped);
    }

    [Fact]
    public void Validation_names_that_match_no_document_are_an_error()
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var txt = Path.Combine(_dir, "a.txt");
        File.WriteAllText(txt, "some text");
        var outDir = Path.Combine(_dir, "data");
        var e = Assert.Throws<ArgumentException>(() => CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tokPath, Inputs = [txt], OutputDirectory = outDir, ValidationDocuments = ["a.txt", "b.txt"],
        }));
        Assert.Contains("b.txt", e.Message);
        Assert.False(File.Exists(Path.Combine(outDir, CorpusPreparer.TrainFile)));
    }

    [Theory]
    [InlineData("{\"txt\": \"no text field\"}", "no string \"text\" field")]
    [InlineData("{\"text\": 5}", "no string \"text\" field")]
    [InlineData("{\"text\": \"unterminated", "not valid JSON")]
    [InlineData("[\"text\"]", "not an object")]
    public void Bad_jsonl_line_is_reported_by_file_and_line_and_writes_nothing(string badLine, string problem)
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var jsonl = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(jsonl, ["{\"text\": \"fine\"}", "", badLine, "{\"text\": \"fine\"}"]);
        var outDir = Path.Combine(_dir, "data");
        var e = Assert.Throws<ModelFormatException>(() => CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tokPath, Inputs = [jsonl], OutputDirectory = outDir,
        }));
        Assert.Contains("bad.jsonl", e.Message);
        Assert.Contains("line 3", e.Message);
        Assert.Contains(problem, e.Message);
        Assert.False(File.Exists(Path.Combine(outDir, CorpusPreparer.TrainFile)));
        Assert.Empty(Directory.GetFiles(outDir, "*.tmp"));

        var (rc, _, err) = CliTests.Run("data", "prepare", "--tokenizer", tokPath, "--input", jsonl, "--out", outDir);
        Assert.Equal(1, rc);
        Assert.Contains("bad.jsonl", err);
        Assert.Contains("line 3", err);
    }

    [Fact]
    public void Cli_prints_the_length_table_and_per_file_counts()
    {
        var tokPath = TrainingTestData.WriteTokenizer(_dir);
        var files = Enumerable.Range(0, 3).Select(i =>
        {
            var p = Path.Combine(_dir, $"book{i}.txt");
            File.WriteAllText(p, TrainingTestData.Document(i, 200));
            return p;
        }).ToArray();
        var outDir = Path.Combine(_dir, "data");
        var (rc, output, err) = CliTests.Run(["data", "prepare", "--tokenizer", tokPath, "--input", files[0], _dir, "--out", outDir, "--val-docs", "book1.txt"]);
        Assert.True(rc == 0, err);
        Assert.Contains("validation", output);
        Assert.Contains("book2.txt", output);
        Assert.Matches(@"MB/s", output);
        var report = CorpusReport.Load(outDir);
        // The folder brings all three books (book0 a second time: named twice, read twice).
        Assert.Equal(new[] { "book0.txt", "book0.txt", "book1.txt", "book2.txt" }, report.Sources.Select(s => Path.GetFileName(s.File)));
        Assert.Equal(3, report.Train.Documents);
        Assert.Equal(1, report.Validation.Documents);
        Assert.Equal(Path.GetFullPath(tokPath), report.Tokenizer);
    }

    [SkippableFact]
    public void A_fixture_book_is_one_document_with_bos_and_eos()
    {
        var book = Fixtures.Path("corpus/frankenstein.txt");
        var tokPath = Fixtures.Path("tokenizers/tok512.model");
        var outDir = Path.Combine(_dir, "book");
        var report = CorpusPreparer.Prepare(new CorpusPrepareOptions { TokenizerPath = tokPath, Inputs = [book], OutputDirectory = outDir, ValidationFraction = 0 });
        var tok = TokenizerLoader.Load(tokPath);
        var docs = Docs(Path.Combine(outDir, CorpusPreparer.TrainFile));
        var doc = Assert.Single(docs);
        var text = File.ReadAllText(book).Replace("\r\n", "\n");
        Assert.Equal(tok.Encode(text, addBos: true, addEos: true), doc);
        Assert.Equal(1, doc[0]);
        Assert.Equal(2, doc[^1]);
        Assert.Equal(512, report.VocabSize);
        Assert.Equal(doc.Length, report.Train.Max);
    }
}
