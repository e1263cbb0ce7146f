using System.Diagnostics;
using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;
using Xunit.Abstractions;

namespace Elongate.Tests.Oracles;

/// <summary>
/// Our encoders against llama.cpp's own tokenizer (llama_tokenize, vocabulary-only load) on the 11 corpus books and on
/// text with special tokens, for each of llama.cpp's six test vocabularies. Ids must be identical; no tolerance.
/// </summary>
/// <remarks>
/// Books are compared in slices of at most 64 Ki chars, each ending after a newline, so that every llama.cpp call is
/// bounded; both sides encode the same slice (for SentencePiece each slice gets its own dummy prefix on both sides).
/// To keep this near 20 s on 2 cores (llama.cpp's encoder is the slow side: 1–3 MB/s), every book contributes its first
/// slice (BOM, Gutenberg header) and every <see cref="Stride"/>-th slice after an offset that rotates by book (5.7 of
/// the 15.7 MB); ELONGATE_FULL_BOOKS=1 compares every slice (about a minute). Measured 2026-12-01 on all 242 slices:
/// identical for all six vocabularies; whole books, not sliced, are identical too (bench `tokenize`).
/// </remarks>
public sealed class TokenizerVsLlamaCppTests(ITestOutputHelper output)
{
    private const int SliceChars = 64 * 1024;
    private const int Stride = 3;

    public static TheoryData<string> Vocabularies => ["gpt-2", "deepseek-llm", "falcon", "starcoder", "phi-3", "llama-spm"];

    private static bool FullBooks => Environment.GetEnvironmentVariable("ELONGATE_FULL_BOOKS") == "1";

    [SkippableTheory]
    [MemberData(nameof(Vocabularies))]
    public void BooksEncodeAsLlamaCpp(string vocab)
    {
        var path = Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf");
        var ours = TokenizerLoader.Load(path);
        using var llama = LlamaCppOracle.OpenVocabulary(path);
        Assert.Equal(ours.Vocabulary.Count, llama.VocabSize);

        var books = Directory.GetFiles(Fixtures.Path("corpus"), "*.txt").Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(11, books.Length);
        var mismatches = new List<string>();
        double oursSeconds = 0, llamaSeconds = 0;
        long bytes = 0, tokens = 0;
        int slices = 0;
        for (int b = 0; b < books.Length; b++)
        {
            var text = Encoding.UTF8.GetString(File.ReadAllBytes(books[b]));
            int k = 0;
            foreach (var (start, length) in BookSlices.Cut(text, SliceChars))
            {
                bool sampled = FullBooks || k == 0 || k % Stride == b % Stride;
                k++;
                if (!sampled) continue;
                var slice = text.Substring(start, length);
                var sw = Stopwatch.StartNew();
                var a = ours.Encode(slice, addBos: false, addEos: false);
                oursSeconds += sw.Elapsed.TotalSeconds;
                sw.Restart();
                var expected = llama.Tokenize(slice, addBos: false);
                llamaSeconds += sw.Elapsed.TotalSeconds;
                slices++;
                bytes += Encoding.UTF8.GetByteCount(slice);
                tokens += expected.Length;
                if (!a.AsSpan().SequenceEqual(expected))
                {
                    mismatches.Add(BookSlices.Describe(ours, Path.GetFileName(books[b]), start, slice, a, expected));
                    break; // the first mismatch of each book is enough
                }
            }
        }
        output.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{vocab}: {slices} slices of 11 books, {bytes / 1e6:F1} MB, {tokens} tokens; ours {bytes / 1e6 / oursSeconds:F1} MB/s, " +
            $"llama.cpp {bytes / 1e6 / llamaSeconds:F1} MB/s{(FullBooks ? " (all slices)" : "")}"));
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of 11 books differ from llama.cpp:\n" + string.Join('\n', mismatches));
    }

    [SkippableTheory]
    [MemberData(nameof(Vocabularies))]
    public void SpecialTokensParseAsLlamaCpp(string vocab)
    {
        // Every special piece of the vocabulary (up to 16, then a spread over the rest: DeepSeek has 2,400) in chat
        // framings with whitespace around it, each encoded with parse_special on and off.
        var path = Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf");
        var ours = TokenizerLoader.Load(path);
        using var llama = LlamaCppOracle.OpenVocabulary(path);
        var v = ours.Vocabulary;
        var specials = Enumerable.Range(0, v.Count).Where(i => v.Types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown).ToList();
        Assert.NotEmpty(specials);
        int every = Math.Max(1, specials.Count / 8);
        var pieces = specials.Where((_, k) => k < 16 || k % every == 0).Select(i => v.Pieces[i]).ToList();
        var texts = new List<string>
        {
            "<|user|>\nWhat is 2+2?<|end|>\n<|assistant|>\n4<|end|>\n", "<|system|>\nBe brief.<|end|>\n<|user|>\n Hi <|end|>\n<|assistant|>\n",
            "Hello<|endoftext|>world", " <|endoftext|> x", "<s>Hi</s>", "a <s> b </s>  c", "<<|endoftext|>>", "<|endoftext|",
        };
        foreach (var a in pieces)
            foreach (var b in pieces.Take(4))
                texts.AddRange([$"{a}Hello world{b}", $"Hello {a} world  {b}\n next", $"{a}\n{b}\n  Hi there {a}  \n", $"{a}{b}{a}", $"\t{a} \r\n{b}"]);
        var failures = new List<string>();
        int compared = 0;
        foreach (var t in texts.Distinct())
            foreach (bool special in new[] { true, false })
            {
                compared++;
                var got = ours.Encode(t, addBos: false, addEos: false, parseSpecial: special);
                var expected = llama.Tokenize(t, addBos: false, parseSpecial: special);
                if (!got.AsSpan().SequenceEqual(expected))
                    failures.Add($"parseSpecial={special} {Show(t)}: llama.cpp [{string.Join(' ', expected)}], ours [{string.Join(' ', got)}]");
            }
        output.WriteLine($"{vocab}: {specials.Count} special pieces, {compared} encodings compared");
        Assert.True(failures.Count == 0, $"{failures.Count} of {compared} differ:\n" + string.Join('\n', failures.Take(20)));
    }

    [SkippableFact]
    public void VocabularyOnlyOracleTokenizesButHasNoContext()
    {
        using var llama = LlamaCppOracle.OpenVocabulary(Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf"));
        Assert.True(llama.VocabularyOnly);
        Assert.Equal(50257, llama.VocabSize);
        Assert.Equal(0, llama.ContextSize);
        // "Hello world" in llama.cpp's gpt-2 vectors: 15496 = "Hello", 995 = "Ġworld".
        Assert.Equal([15496, 995], llama.Tokenize("Hello world", addBos: false));
        Assert.Equal([50256], llama.Tokenize("<|endoftext|>", addBos: false, parseSpecial: true));
        var buffer = new int[16];
        Assert.Equal(2, llama.TokenizeUtf8("Hello world"u8, buffer, addBos: false));
        Assert.Throws<ArgumentException>(() => llama.TokenizeUtf8("Hello world"u8, new int[4], addBos: false));
        Assert.Throws<InvalidOperationException>(() => llama.Logits([15496]));
        Assert.Throws<InvalidOperationException>(() => llama.GreedyContinuation([15496], 1));
        output.WriteLine($"llama_tokenize called directly: {LlamaCppOracle.DirectTokenize}");
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}

/// <summary>Book slicing and mismatch reports for tokenizer comparisons.</summary>
public static class BookSlices
{
    /// <summary>
    /// (start, length) slices of at most <paramref name="maxChars"/> chars covering <paramref name="text"/>, each ending
    /// just after a '\n' when the slice has one (so CRLF stays whole), else before a split surrogate pair.
    /// </summary>
    public static IEnumerable<(int Start, int Length)> Cut(string text, int maxChars)
    {
        for (int at = 0; at < text.Length;)
        {
            int end = Math.Min(text.Length, at + maxChars);
            if (end < text.Length)
            {
                int newline = text.LastIndexOf('\n', end - 1, end - at);
                if (newline >= at) end = newline + 1;
                else if (char.IsHighSurrogate(text[end - 1])) end--;
            }
            yield return (at, end - at);
            at = end;
        }
    }

    /// <summary>Where two encodings of a slice first differ: the token index, the text around it, and both id runs with their pieces.</summary>
    public static string Describe(ITokenizer tok, string book, int offset, string slice, int[] ours, int[] reference)
    {
        int i = 0;
        while (i < ours.Length && i < reference.Length && ours[i] == reference[i]) i++;
        var prefix = new List<byte>();
        for (int k = 0; k < i; k++) prefix.AddRange(tok.TokenBytes(reference[k], special: true));
        int at = Math.Min(slice.Length, Encoding.UTF8.GetString(prefix.ToArray()).Length);
        int from = Math.Max(0, at - 40);
        string Run(int[] ids) => string.Join(' ', ids.Skip(Math.Max(0, i - 2)).Take(8)
            .Select(id => $"{id}:{Show(Encoding.UTF8.GetString(tok.TokenBytes(id, special: true)))}"));
        return $"{book}, slice at char {offset}: first difference at token {i} (char ~{offset + at}) in {Show(slice.Substring(from, Math.Min(100, slice.Length - from)))}\n" +
               $"  llama.cpp {Run(reference)}\n  ours      {Run(ours)}";
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
