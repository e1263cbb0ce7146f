using Elongate.Data;
using Elongate.Tokenization;
using Elongate.Formats;

namespace Elongate.Tests.Cli;

/// <summary>`elongate data tokenizer`: learns a vocabulary from files, leaves out the excluded ones, and `data prepare` uses it.</summary>
public sealed class DataTokenizerCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-data-tokenizer").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    [Fact]
    public void Learns_from_a_folder_without_the_excluded_document_and_prepare_reads_the_result()
    {
        var corpus = Directory.CreateDirectory(Path.Combine(_dir, "books")).FullName;
        var synthetic = new SyntheticCorpus(3);
        for (int i = 0; i < 3; i++) File.WriteAllText(Path.Combine(corpus, $"book{i}.txt"), synthetic.Document(i, 600));
        // The held-out book is the only one with "Жёщ": were it read, its letters would become pieces.
        File.WriteAllText(Path.Combine(corpus, "held.txt"), string.Join(" ", Enumerable.Repeat("Жёщ", 200)));
        var tok = Path.Combine(_dir, "tok.bin");
        var (rc, output, err) = CliTests.Run(["data", "tokenizer", "-i", corpus, "--exclude", "held.txt", "--vocab-size", "400", "-o", tok]);
        Assert.True(rc == 0, err + output);
        Assert.Contains("400 pieces", output);
        var loaded = TokenizerLoader.Load(tok);
        Assert.Equal(400, loaded.Vocabulary.Count);
        Assert.DoesNotContain("Ж", loaded.Vocabulary.Pieces);
        Assert.Equal(BpeTrainer.Train(Enumerable.Range(0, 3).Select(i => synthetic.Document(i, 600)), 400).Pieces, loaded.Vocabulary.Pieces);

        (rc, output, err) = CliTests.Run(["data", "prepare", "-z", tok, "-i", corpus, "-o", Path.Combine(_dir, "data"), "--val-docs", "held.txt"]);
        Assert.True(rc == 0, err + output);
        var text = synthetic.Document(9, 200);
        Assert.Equal(text, loaded.Decode(loaded.Encode(text, addBos: true, addEos: false)));
    }

    [Fact]
    public void Names_an_exclusion_that_matches_nothing_and_writes_no_file()
    {
        var book = Path.Combine(_dir, "a.txt");
        File.WriteAllText(book, "some words and some more words");
        var tok = Path.Combine(_dir, "tok.bin");
        var (rc, output, err) = CliTests.Run(["data", "tokenizer", "-i", book, "--exclude", "missing.txt", "-o", tok]);
        Assert.NotEqual(0, rc);
        Assert.Contains("missing.txt", err + output);
        Assert.False(File.Exists(tok));
        (rc, output, err) = CliTests.Run(["data", "tokenizer", "-i", book, "--vocab-size", "100", "-o", tok]);
        Assert.NotEqual(0, rc);
        Assert.Contains("259", err + output);
    }
}
