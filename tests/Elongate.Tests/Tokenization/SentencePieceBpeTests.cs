using System.Text;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>Algorithm corner cases on small built models, where the expected ids follow from SentencePiece's BPE rules.</summary>
public class SentencePieceBpeTests
{
    [Fact]
    public void EqualScoresMergeLeftmostFirst()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "a", "aa");
        b.AddDummyPrefix = false;
        // "aaa": pairs (0,1) and (1,2) both make "aa"; the leftmost wins, leaving "aa" + "a".
        Assert.Equal([b.IdOf("aa"), b.IdOf("a")], b.Encoder().Encode("aaa", false, false));
    }

    [Fact]
    public void HigherScoreWinsOverPosition()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "b", "c", "a", "bc", "ab"); // "bc" scores above "ab"
        b.AddDummyPrefix = false;
        Assert.Equal([b.IdOf("a"), b.IdOf("bc")], b.Encoder().Encode("abc", false, false));
    }

    [Fact]
    public void ControlPiecesAreNeverFormedByMerging()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "<", "s", ">", "/", "<s");
        b.AddDummyPrefix = false;
        var ids = b.Encoder().Encode("<s>", true, false);
        Assert.Equal([1, b.IdOf("<s"), b.IdOf(">")], ids);
    }

    [Fact]
    public void UnusedPiecesMergeButAreSplitBack()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "a", "b", "c");
        b.AddDummyPrefix = false;
        b.Pieces.Add(("ab", 10, TokenType.Unused));
        b.Pieces.Add(("abc", 5, TokenType.Normal));
        var enc = b.Encoder();
        Assert.Equal([b.IdOf("a"), b.IdOf("b")], enc.Encode("ab", false, false)); // never emitted
        Assert.Equal([b.IdOf("abc")], enc.Encode("abc", false, false)); // but usable as a step, as in sentencepiece
    }

    [Fact]
    public void UserDefinedPiecesStayWhole()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "x", "y", "z", "\u2581");
        b.AddDummyPrefix = false;
        b.Pieces.Add(("xyz", 0, TokenType.UserDefined));
        Assert.Equal([b.IdOf("x"), b.IdOf("xyz"), b.IdOf("y")], b.Encoder().Encode("xxyzy", false, false));
    }

    [Fact]
    public void ByteFallbackOrUnknown()
    {
        var withBytes = SentencePieceModelBuilder.WithSpecials(true, "\u2581", "a");
        var ids = withBytes.Encoder().Encode("aé", false, false);
        Assert.Equal([withBytes.IdOf("\u2581"), withBytes.IdOf("a"), 3 + 0xC3, 3 + 0xA9], ids);
        Assert.Equal("aé", withBytes.Encoder().Decode(ids));

        var noBytes = SentencePieceModelBuilder.WithSpecials(false, "\u2581", "a");
        var enc = noBytes.Encoder();
        Assert.Equal([noBytes.IdOf("\u2581"), noBytes.IdOf("a"), 0, 0], enc.Encode("aé🚀", false, false)); // one unk per character
        Assert.Equal("a \u2047  \u2047 ", enc.Decode(enc.Encode("aé🚀", false, false)));
    }

    [Fact]
    public void RemoveExtraWhitespacesCollapsesSpaces()
    {
        var b = SentencePieceModelBuilder.WithSpecials(false, "\u2581", "a", "b", "\u2581a", "\u2581b");
        b.RemoveExtraWhitespaces = true;
        Assert.Equal([b.IdOf("\u2581a"), b.IdOf("\u2581b")], b.Encoder().Encode("  a   b  ", false, false));
        Assert.Empty(b.Encoder().Encode("   ", false, false));
    }

    [SkippableFact]
    public void ChunkingNeverChangesTheResult()
    {
        var tok = new SentencePieceBpe(SentencePieceModelReader.Read(Fixtures.Path("tokenizers/tokenizer.model")));
        var whole = new SentencePieceBpe(SentencePieceModelReader.Read(Fixtures.Path("tokenizers/tokenizer.model"))) { Chunking = false };
        var texts = ConformanceVectors.LlamaCpp().Select(v => v.Text).ToList();
        foreach (var book in new[] { "corpus/pride_and_prejudice.txt", "corpus/ulysses.txt", "corpus/crime_and_punishment.txt" })
        {
            var s = Encoding.UTF8.GetString(File.ReadAllBytes(Fixtures.Path(book)));
            texts.Add(s[..60_000]);
            texts.Add(s[(s.Length / 2)..(s.Length / 2 + 60_000)]);
        }
        foreach (var t in texts) Assert.Equal(whole.Encode(t, true, false), tok.Encode(t, true, false));
    }
}
