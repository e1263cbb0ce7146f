using Elongate.Data;
using Elongate.Experiments;
using Elongate.Tokenization;

namespace Elongate.Tests.Experiments;

public sealed class BuiltInTokenizerTests
{
    private static readonly SyntheticCorpus Corpus = new(7);

    [Fact]
    public void Learns_merges_in_frequency_order_as_hand_computed()
    {
        // " aa aa aa ab" as SentencePiece words: ▁aa ×3, ▁ab ×1. Pair counts: (▁,a) 4, (a,a) 3, (a,b) 1 → merge "▁a";
        // then (▁a,a) 3, (▁a,b) 1 → "▁aa"; then only count-1 pairs remain, so learning stops.
        var vocab = BuiltInTokenizer.Train(["aa aa aa ab"], 300);
        var merges = Enumerable.Range(0, vocab.Count).Where(i => vocab.Types[i] == TokenType.Normal && vocab.Pieces[i].Length > 1).ToArray();
        Assert.Equal(["\u2581a", "\u2581aa"], merges.Select(i => vocab.Pieces[i]));
        Assert.Equal([-1f, -2f], merges.Select(i => vocab.Scores[i]));
        Assert.Equal(256, vocab.Types.Count(t => t == TokenType.Byte));
        var tok = BuiltInTokenizer.Create(vocab);
        Assert.Equal([vocab.BosId, Array.IndexOf(vocab.Pieces, "\u2581aa"), Array.IndexOf(vocab.Pieces, "\u2581a"), Array.IndexOf(vocab.Pieces, "b")],
            tok.Encode("aa ab", addBos: true, addEos: false));
    }

    [Fact]
    public void Round_trips_unseen_synthetic_text_and_compresses_it()
    {
        var vocab = BuiltInTokenizer.Train(Enumerable.Range(0, 4).Select(i => Corpus.Document(i, 800)), 512);
        Assert.Equal(512, vocab.Count);
        var tok = BuiltInTokenizer.Create(vocab);
        var text = Corpus.Document(100, 800);
        var ids = tok.Encode(text, addBos: true, addEos: false);
        Assert.Equal(text, tok.Decode(ids));
        // Learned merges must shorten the text well below one token per character (measured ≈ 0.3).
        Assert.True(ids.Length < text.Length / 2, $"{ids.Length} tokens for {text.Length} characters");
    }

    [Fact]
    public void Falls_back_to_bytes_for_any_unicode_and_survives_the_tokenizer_bin_round_trip()
    {
        var vocab = BuiltInTokenizer.Train([Corpus.Document(0, 400)], 400);
        var tok = BuiltInTokenizer.Create(vocab);
        const string text = "naïve café — 日本語 🎉 Ωμέγα\ttab\u0000nul";
        var ids = tok.Encode(text, addBos: false, addEos: false);
        Assert.Equal(text, tok.Decode(ids));
        // 🎉 is F0 9F 8E 89 in UTF-8: four byte pieces in order.
        int B(int b) => Array.IndexOf(vocab.Pieces, $"<0x{b:X2}>");
        Assert.True(ids.AsSpan().IndexOf([B(0xF0), B(0x9F), B(0x8E), B(0x89)]) >= 0);

        var path = Path.Combine(Path.GetTempPath(), $"elongate-tok-{Guid.NewGuid():N}.bin");
        try
        {
            BuiltInTokenizer.WriteLlama2cBin(vocab, path);
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
        var a = BuiltInTokenizer.Train([Corpus.Document(1, 300)], 350);
        var b = BuiltInTokenizer.Train([Corpus.Document(1, 300)], 350);
        Assert.Equal(a.Pieces, b.Pieces);
        Assert.Throws<ArgumentException>(() => BuiltInTokenizer.Train(["x"], 258));
    }
}
