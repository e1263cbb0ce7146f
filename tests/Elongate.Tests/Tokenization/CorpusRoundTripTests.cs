using System.Diagnostics;
using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;
using Xunit.Abstractions;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// decode(encode(book)) == book for every corpus book with the Llama 2 tokenizer (BOM, CRLF, curly quotes, accents
/// and all), and encode throughput per book; then every book with each of llama.cpp's six test vocabularies.
/// </summary>
public class CorpusRoundTripTests(ITestOutputHelper output)
{
    private static readonly string[] BookNames =
    [
        "war_and_peace.txt", "moby_dick.txt", "a_tale_of_two_cities.txt", "ulysses.txt", "dracula.txt", "crime_and_punishment.txt",
        "pride_and_prejudice.txt", "frankenstein.txt", "tinyshakespeare.txt", "kjv_bible_old_testament.txt", "kjv_bible_new_testament.txt",
    ];

    public static TheoryData<string> Books => new(BookNames);

    [SkippableTheory]
    [MemberData(nameof(Books))]
    public void RoundTripsLosslessly(string book)
    {
        var bytes = File.ReadAllBytes(Fixtures.Path("corpus/" + book));
        // Encoding.GetString keeps a leading BOM as U+FEFF (File.ReadAllText would drop it).
        var text = Encoding.UTF8.GetString(bytes);
        var tok = TokenizerSources.Get("tokenizer.model");
        var sw = Stopwatch.StartNew();
        var ids = tok.Encode(text, addBos: true, addEos: false);
        var encodeSeconds = sw.Elapsed.TotalSeconds;
        sw.Restart();
        var decoded = tok.Decode(ids);
        var decodeSeconds = sw.Elapsed.TotalSeconds;
        output.WriteLine($"{book}: {bytes.Length / 1e6:F2} MB -> {ids.Length} tokens; encode {encodeSeconds * 1000:F0} ms " +
                         $"({bytes.Length / 1e6 / encodeSeconds:F1} MB/s), decode {decodeSeconds * 1000:F0} ms");
        Assert.Equal(1, ids[0]);
        Assert.True(decoded == text, $"{book}: round trip differs at char {FirstDifference(text, decoded)}");
        // Generous bound so a loaded CI machine does not flake; the measured figure is printed above.
        Assert.True(encodeSeconds < 5, $"{book}: encoding took {encodeSeconds:F2} s");
    }

    public static TheoryData<string> Vocabularies => ["gpt-2", "deepseek-llm", "falcon", "starcoder", "phi-3", "llama-spm"];

    [SkippableTheory]
    [MemberData(nameof(Vocabularies))]
    public void EveryBookRoundTripsWithEveryVocabulary(string vocab)
    {
        // Whole books, no BOS: byte-level BPE must give back every byte; SentencePiece drops only the dummy prefix it
        // added. The ids themselves are checked against llama.cpp in TokenizerVsLlamaCppTests.
        var tok = TokenizerLoader.Load(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));
        double encodeSeconds = 0;
        long bytes = 0, tokens = 0;
        var failures = new List<string>();
        foreach (var book in BookNames)
        {
            var data = File.ReadAllBytes(Fixtures.Path("corpus/" + book));
            var text = Encoding.UTF8.GetString(data);
            var sw = Stopwatch.StartNew();
            var ids = tok.Encode(text, addBos: false, addEos: false);
            encodeSeconds += sw.Elapsed.TotalSeconds;
            bytes += data.Length;
            tokens += ids.Length;
            var decoded = tok.Decode(ids);
            if (decoded != text) failures.Add($"{book}: differs at char {FirstDifference(text, decoded)}");
        }
        output.WriteLine($"{vocab}: 11 books, {bytes / 1e6:F1} MB -> {tokens} tokens; encode {bytes / 1e6 / encodeSeconds:F1} MB/s");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
    }

    [SkippableFact]
    public void BomAndCrlfSurviveAsBytes()
    {
        var tok = TokenizerSources.Get("tokenizer.bin");
        var text = "\uFEFFIt is a truth\r\nuniversally acknowledged, café “quoted”";
        var ids = tok.Encode(text, true, false);
        Assert.DoesNotContain(tok.Vocabulary.UnkId, ids);
        Assert.Equal(text, tok.Decode(ids));
    }

    private static int FirstDifference(string a, string b)
    {
        int n = Math.Min(a.Length, b.Length);
        for (int i = 0; i < n; i++) if (a[i] != b[i]) return i;
        return n;
    }
}
