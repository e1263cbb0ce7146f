using Elongate.Data;
using Elongate.Tokenization;
using Elongate.Formats;

namespace Elongate.Tests.Tokenization;

public sealed class BpeTrainerTests
{
    private static readonly SyntheticCorpus Corpus = new(7);

    [Fact]
    public void Learns_merges_in_frequency_order_as_hand_computed()
    {
        // " aa aa aa ab" as SentencePiece words: ▁aa ×3, ▁ab ×1. Pair counts: (▁,a) 4, (a,a) 3, (a,b) 1 → merge "▁a";
        // then (▁a,a) 3, (▁a,b) 1 → "▁aa"; then only count-1 pairs remain, so learning stops.
        var vocab = BpeTrainer.Train(["aa aa aa ab"], 300);
        var merges = Enumerable.Range(0, vocab.Count).Where(i => vocab.Types[i] == TokenType.Normal && vocab.Pieces[i].Length > 1).ToArray();
        Assert.Equal(["\u2581a", "\u2581aa"], merges.Select(i => vocab.Pieces[i]));
        Assert.Equal([-1f, -2f], merges.Select(i => vocab.Scores[i]));
        Assert.Equal(256, vocab.Types.Count(t => t == TokenType.Byte));
        var tok = BpeTrainer.Create(vocab);
        Assert.Equal([vocab.BosId, Array.IndexOf(vocab.Pieces, "\u2581aa"), Array.IndexOf(vocab.Pieces, "\u2581a"), Array.IndexOf(vocab.Pieces, "b")],
            tok.Encode("aa ab", addBos: true, addEos: false));
    }

    [Fact]
    public void Round_trips_unseen_synthetic_text_and_compresses_it()
    {
        var vocab = BpeTrainer.Train(Enumerable.Range(0, 4).Select(i => Corpus.Document(i, 800)), 512);
        Assert.Equal(512, vocab.Count);
        var tok = BpeTrainer.Create(vocab);
        var text = Corpus.Document(100, 800);
        var ids = tok.Encode(text, addBos: true, addEos: false);
        Assert.Equal(text, tok.Decode(ids));
        // Learned merges must shorten the text well below one token per character (measured ≈ 0.3).
        Assert.True(ids.Length < text.Length / 2, $"{ids.Length} tokens for {text.Length} characters");
    }

    [Fact]
    public void Falls_back_to_bytes_for_any_unicode_and_survives_the_tokenizer_bin_round_trip()
    {
        var vocab = BpeTrainer.Train([Corpus.Document(0, 400)], 400);
        var tok = BpeTrainer.Create(vocab);
        const string text = "naïve café — 日本語 🎉 Ωμέγα\ttab\u0000nul";
        var ids = tok.Encode(text, addBos: false, addEos: false);
        Assert.Equal(text, tok.Decode(ids));
        // 🎉 is F0 9F 8E 89 in UTF-8: four byte pieces in order.
        int B(int b) => Array.IndexOf(vocab.Pieces, $"<0x{b:X2}>");
        Assert.True(ids.AsSpan().IndexOf([B(0xF0), B(0x9F), B(0x8E), B(0x89)]) >= 0);

        var path = Path.Combine(Path.GetTempPath(), $"elongate-tok-{Guid.NewGuid():N}.bin");
        try
        {
            BpeTrainer.WriteLlama2cBin(vocab, path);
            var loaded = TokenizerLoader.Load(path);
            Assert.Equal(vocab.Pieces, loaded.Vocabulary.Pieces);
            Assert.Equal(vocab.Types, loaded.Vocabulary.Types);
            Assert.Equal(vocab.Scores, loaded.Vocabulary.Scores);
            Assert.Equal(ids, loaded.Encode(text, addBos: false, addEos: false));
            var doc = Corpus.Document(3, 300);
            Assert.Equal(tok.Encode(doc, true, true), loaded.Encode(doc, true, true));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Training_is_deterministic_and_rejects_a_vocabulary_without_room_for_bytes()
    {
        var a = BpeTrainer.Train([Corpus.Document(1, 300)], 350);
        var b = BpeTrainer.Train([Corpus.Document(1, 300)], 350);
        Assert.Equal(a.Pieces, b.Pieces);
        Assert.Throws<ArgumentException>(() => BpeTrainer.Train(["x"], 258));
    }

    [Fact]
    public void Incremental_training_equals_recounting_every_pair_after_every_merge()
    {
        // The trainer keeps pair counts across merges; the oracle recounts everything each time (the textbook
        // algorithm). Synthetic documents plus a text with newlines, punctuation runs, repeated letters ("aaaa" has
        // overlapping pairs) and characters that do not fit the vocabulary.
        var texts = Enumerable.Range(0, 3).Select(i => Corpus.Document(i, 600)).Append("aaaa aaa aa a\nbbb!!! ?? ...\n\nzzz zz — «x»").ToList();
        foreach (int size in new[] { 300, 420, 700 })
        {
            var fast = BpeTrainer.Train(texts, size);
            var slow = NaiveBpe(texts, size);
            Assert.Equal(slow.Pieces, fast.Pieces);
            Assert.Equal(slow.Scores, fast.Scores);
            Assert.Equal(slow.Types, fast.Types);
        }
    }

    [SkippableFact]
    public void A_book_vocabulary_equals_the_recounting_oracle_and_compresses_english()
    {
        var book = Fixtures.Path("corpus/frankenstein.txt");
        var text = File.ReadAllText(book)[..60_000];
        var fast = BpeTrainer.Train([text], 1024);
        Assert.Equal(NaiveBpe([text], 1024).Pieces, fast.Pieces);
        var tok = BpeTrainer.Create(fast);
        var ids = tok.Encode(text, addBos: false, addEos: false);
        Assert.Equal(text, tok.Decode(ids));
        // A 1,024-piece vocabulary fitted to the text packs it far tighter than the borrowed 512-piece TinyStories one
        // (measured 2.64 against about 1.7 characters per token).
        var tok512 = TokenizerLoader.Load(Fixtures.Path("tokenizers/tok512.model"));
        double ours = (double)text.Length / ids.Length, theirs = (double)text.Length / tok512.Encode(text, false, false).Length;
        Assert.True(ours > 2.4 && ours > 1.3 * theirs, $"{ours:F2} characters per token against tok512's {theirs:F2}");
    }

    /// <summary>The textbook BPE loop: recount every adjacent pair of every word, merge the best, repeat.</summary>
    private static TokenVocabulary NaiveBpe(IEnumerable<string> texts, int vocabSize)
    {
        const char space = '\u2581';
        var words = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var text in texts)
        {
            var s = (" " + text).Replace(' ', space);
            int start = 0;
            for (int i = 1; i <= s.Length; i++)
            {
                if (i < s.Length && s[i] != space && s[i] != '\n' && s[i - 1] != '\n') continue;
                words[s[start..i]] = words.GetValueOrDefault(s[start..i]) + 1;
                start = i;
            }
        }
        var pieces = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<TokenType> { TokenType.Unknown, TokenType.Control, TokenType.Control };
        var scores = new List<float> { 0, 0, 0 };
        for (int b = 0; b < 256; b++) { pieces.Add($"<0x{b:X2}>"); types.Add(TokenType.Byte); scores.Add(0); }
        var chars = new Dictionary<char, long>();
        foreach (var (w, n) in words)
            foreach (var c in w)
                if (!char.IsSurrogate(c)) chars[c] = chars.GetValueOrDefault(c) + n;
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (c, _) in chars.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key))
        {
            if (pieces.Count >= vocabSize) break;
            pieces.Add(c.ToString()); types.Add(TokenType.Normal); scores.Add(0);
            known.Add(c.ToString());
        }
        var seqs = words.Select(kv => (Symbols: kv.Key.Select(c => c.ToString()).ToList(), Count: kv.Value)).ToList();
        int merge = 0;
        while (pieces.Count < vocabSize)
        {
            var pairs = new Dictionary<(string, string), long>();
            foreach (var (sym, n) in seqs)
                for (int i = 1; i < sym.Count; i++)
                {
                    if (!known.Contains(sym[i - 1]) || !known.Contains(sym[i]) || sym[i] == space.ToString() || sym[i] == "\n" || sym[i - 1] == "\n") continue;
                    pairs[(sym[i - 1], sym[i])] = pairs.GetValueOrDefault((sym[i - 1], sym[i])) + n;
                }
            if (pairs.Count == 0) break;
            var best = pairs.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key.Item1, StringComparer.Ordinal).ThenBy(kv => kv.Key.Item2, StringComparer.Ordinal).First();
            if (best.Value < 2) break;
            var (a, b2) = best.Key;
            if (known.Add(a + b2)) { pieces.Add(a + b2); types.Add(TokenType.Normal); scores.Add(-(++merge)); }
            foreach (var (sym, _) in seqs)
                for (int i = 1; i < sym.Count; i++)
                    if (sym[i - 1] == a && sym[i] == b2) { sym[i - 1] = a + b2; sym.RemoveAt(i); }
        }
        return new TokenVocabulary { Pieces = pieces.ToArray(), Scores = scores.ToArray(), Types = types.ToArray(), UnkId = 0, BosId = 1, EosId = 2, AddBos = true };
    }
}
