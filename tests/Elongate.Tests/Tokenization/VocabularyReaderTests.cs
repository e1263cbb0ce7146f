using System.Buffers.Binary;
using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Tests.Tokenization;

/// <summary>tokenizer.model and tokenizer.bin readers: published vocabulary facts (PROVENANCE §4), cross-format equality, and bad input.</summary>
public class VocabularyReaderTests
{
    private static string Fx(string relative) => Fixtures.Path(relative);

    [SkippableFact]
    public void Llama2ModelFacts()
    {
        var m = SentencePieceModelReader.Read(Fx("tokenizers/tokenizer.model"));
        var v = m.Vocabulary;
        Assert.Equal(32000, v.Count);
        Assert.Equal(1, v.Types.Count(t => t == TokenType.Unknown));
        Assert.Equal(TokenType.Unknown, v.Types[0]);
        Assert.Equal(2, v.Types.Count(t => t == TokenType.Control));
        Assert.Equal([TokenType.Control, TokenType.Control], v.Types[1..3]);
        Assert.Equal(256, v.Types.Count(t => t == TokenType.Byte));
        Assert.All(Enumerable.Range(3, 256), i => Assert.Equal($"<0x{i - 3:X2}>", v.Pieces[i]));
        Assert.Equal(31741, v.Types.Count(t => t == TokenType.Normal));
        Assert.Equal("\u2581\u2581", v.Pieces[259]);
        Assert.Equal(-1e9f, v.Scores[259]);
        Assert.Equal("给", v.Pieces[31999]);
        Assert.Equal(-31740f, v.Scores[31999]);
        Assert.Equal((0, 1, 2), (v.UnkId, v.BosId, v.EosId));
        Assert.Equal(SentencePieceOptions.Llama, m.Options); // identity, dummy prefix, no whitespace collapsing, byte fallback
    }

    [SkippableTheory]
    [InlineData("tokenizers/tokenizer.model", "tokenizers/tokenizer.bin", 32000)]
    [InlineData("tokenizers/tok512.model", "models/tok512.bin", 512)]
    public void BinExportEqualsModel(string modelPath, string binPath, int count)
    {
        var model = SentencePieceModelReader.Read(Fx(modelPath)).Vocabulary;
        var binGiven = Llama2cTokenizerReader.Read(Fx(binPath), count).Vocabulary;
        var binInferred = Llama2cTokenizerReader.Read(Fx(binPath)).Vocabulary;
        foreach (var bin in new[] { binGiven, binInferred })
        {
            Assert.Equal(count, bin.Count);
            Assert.Equal(model.Pieces, bin.Pieces);
            Assert.Equal(model.Scores, bin.Scores);
            Assert.Equal(model.Types, bin.Types);
            Assert.Equal((model.UnkId, model.BosId, model.EosId), (bin.UnkId, bin.BosId, bin.EosId));
        }
    }

    [SkippableFact]
    public void Tok512Facts()
    {
        var bytes = File.ReadAllBytes(Fx("models/tok512.bin"));
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        var v = Llama2cTokenizerReader.Read(bytes, "tok512.bin").Vocabulary;
        Assert.Equal(512, v.Count);
        Assert.All(Enumerable.Range(3, 256), i => Assert.Equal(TokenType.Byte, v.Types[i]));
        Assert.Equal(7, v.Pieces.Max(p => Encoding.UTF8.GetByteCount(p.Replace('\u2581', ' ').Replace("<s>", "\n<s>\n").Replace("</s>", "\n</s>\n"))));
    }

    [SkippableFact]
    public void DetectsFormatsByContent()
    {
        Assert.Equal(TokenizerFileKind.SentencePieceModel, TokenizerLoader.Detect(File.ReadAllBytes(Fx("tokenizers/tokenizer.model"))));
        Assert.Equal(TokenizerFileKind.SentencePieceModel, TokenizerLoader.Detect(File.ReadAllBytes(Fx("tokenizers/tok512.model"))));
        Assert.Equal(TokenizerFileKind.Llama2cBin, TokenizerLoader.Detect(File.ReadAllBytes(Fx("tokenizers/tokenizer.bin"))));
        Assert.Equal(TokenizerFileKind.Llama2cBin, TokenizerLoader.Detect(File.ReadAllBytes(Fx("models/tok512.bin"))));
        // max_token_length = 10 starts with 0x0A like a protobuf; the zero length byte tells them apart.
        var aidreams = File.ReadAllBytes(Fx("models/aidreams260K_tok512.bin"));
        Assert.Equal(10u, BinaryPrimitives.ReadUInt32LittleEndian(aidreams));
        Assert.Equal(TokenizerFileKind.Llama2cBin, TokenizerLoader.Detect(aidreams));
        Assert.Equal(512, TokenizerLoader.Load(Fx("models/aidreams260K_tok512.bin")).Vocabulary.Count);
        Assert.Equal(TokenizerFileKind.Gguf, TokenizerLoader.Detect(File.ReadAllBytes(Fx("tokenizers/ggml-vocab-llama-spm.gguf"))));
        Assert.Equal(TokenizerFileKind.Unknown, TokenizerLoader.Detect([0, 0, 0, 0, 1]));
        var ex = Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load(Fx("models/stories260K.bin")));
        Assert.Contains("stories260K.bin", ex.Message);
    }

    [SkippableFact]
    public void TruncatedOrGarbledBinIsRejected()
    {
        var path = Fx("tokenizers/tokenizer.bin");
        var bytes = File.ReadAllBytes(path);
        foreach (int cut in new[] { 0, 3, 4, 7, 11, 12, 100, bytes.Length / 2, bytes.Length - 1 })
        {
            var ex = Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bytes.AsSpan(0, cut), "cut.bin", 32000));
            Assert.StartsWith("cut.bin", ex.Message);
        }
        // Inferred size: a cut inside a record is an error; the message names the offset.
        var e2 = Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bytes.AsSpan(0, bytes.Length - 1), "cut.bin"));
        Assert.NotNull(e2.Offset);
        Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bytes, "x.bin", 31999)); // trailing bytes
        Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bytes, "x.bin", 32001)); // runs past the end
        Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bytes, "x.bin", -5));
        var garbled = (byte[])bytes.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(garbled.AsSpan(4 + 4), int.MaxValue); // token 0 length
        var e3 = Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(garbled, "g.bin"));
        Assert.Equal(8, e3.Offset);
        BinaryPrimitives.WriteUInt32LittleEndian(garbled, 0xFFFF_FFFF);
        Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(garbled, "g.bin"));
        Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(new byte[4096], "zeros.bin"));
    }

    [SkippableFact]
    public void TruncatedOrGarbledModelIsRejected()
    {
        var bytes = File.ReadAllBytes(Fx("tokenizers/tokenizer.model"));
        foreach (int cut in new[] { 0, 1, 2, 5, 16, 1000, bytes.Length / 2, bytes.Length - 10, bytes.Length - 1 })
        {
            var ex = Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(bytes.AsSpan(0, cut), "cut.model"));
            Assert.StartsWith("cut.model", ex.Message);
        }
        var garbled = (byte[])bytes.Clone();
        garbled[1] = 0xFF; // first piece's length varint now runs on into the next bytes
        Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(garbled, "g.model"));
        garbled = (byte[])bytes.Clone();
        garbled[0] = 0x0F; // field 1 with wire type 7 (invalid)
        var e = Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(garbled, "g.model"));
        Assert.Equal(0, e.Offset);
        Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(Enumerable.Repeat((byte)0xFF, 64).ToArray(), "ff.model"));
    }

    [Fact]
    public void InvalidUtf8InPieceIsRejectedWithOffset()
    {
        // tokenizer.bin: header, <unk>, <s>, </s>, then a piece "a\xFFb" whose 0xFF is at a known offset.
        var ms = new MemoryStream();
        var w = new BinaryWriter(ms);
        w.Write(6u);
        foreach (var p in new[] { "<unk>", "\n<s>\n", "\n</s>\n" }) { w.Write(0f); w.Write(Encoding.UTF8.GetByteCount(p)); w.Write(Encoding.UTF8.GetBytes(p)); }
        w.Write(-1f); w.Write(3);
        long pieceAt = ms.Position;
        w.Write(new byte[] { (byte)'a', 0xFF, (byte)'b' });
        var bin = ms.ToArray();
        var e = Assert.Throws<ModelFormatException>(() => Llama2cTokenizerReader.Read(bin, "bad.bin"));
        Assert.Equal(pieceAt + 1, e.Offset);
        Assert.Contains("UTF-8", e.Message);
        Assert.Contains($"offset {pieceAt + 1}", e.Message);

        // tokenizer.model: same piece inside a protobuf.
        var b = SentencePieceModelBuilder.WithSpecials(false, "a", "b");
        var good = b.Build();
        // Replace the normal piece "a" (length 1) with 0xC3 (a lead byte with no continuation).
        int pieceOffset = FindPiece(good, "a");
        good[pieceOffset] = 0xC3;
        var e2 = Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(good, "bad.model"));
        Assert.Equal(pieceOffset, e2.Offset);
        Assert.Contains("UTF-8", e2.Message);
    }

    [Fact]
    public void ModelSemanticsAreValidated()
    {
        var unigram = SentencePieceModelBuilder.WithSpecials(false, "a");
        unigram.ModelType = 1;
        Assert.Contains("UNIGRAM", Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(unigram.Build(), "u.model")).Message);

        var dup = SentencePieceModelBuilder.WithSpecials(false, "a", "a");
        Assert.Contains("twice", Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(dup.Build(), "d.model")).Message);

        var noBytes = SentencePieceModelBuilder.WithSpecials(false, "a");
        noBytes.ByteFallback = true;
        Assert.Contains("256", Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(noBytes.Build(), "b.model")).Message);

        var badType = SentencePieceModelBuilder.WithSpecials(false, "a");
        badType.Pieces[3] = ("a", 0, (TokenType)9);
        Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(badType.Build(), "t.model"));

        var badByte = SentencePieceModelBuilder.WithSpecials(false, "a");
        badByte.Pieces.Add(("<0xZZ>", 0, TokenType.Byte));
        Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(badByte.Build(), "y.model"));

        var nan = SentencePieceModelBuilder.WithSpecials(false, "a");
        nan.Pieces[3] = ("a", float.NaN, TokenType.Normal);
        Assert.Throws<ModelFormatException>(() => SentencePieceModelReader.Read(nan.Build(), "n.model"));
    }

    [SkippableFact]
    public void MutatedTok512BinNeverCrashes()
    {
        var valid = File.ReadAllBytes(Fx("models/tok512.bin"));
        int rejected = HeaderMutator.Run(valid, valid.Length, 10_000, seed: 512, bytes => ReadAndUse(Llama2cTokenizerReader.Read(bytes, "mutant.bin")));
        Assert.InRange(rejected, 1000, 10_000);
    }

    [SkippableFact]
    public void MutatedTok512ModelNeverCrashes()
    {
        var valid = File.ReadAllBytes(Fx("tokenizers/tok512.model"));
        int rejected = HeaderMutator.Run(valid, valid.Length, 10_000, seed: 7522, bytes => ReadAndUse(SentencePieceModelReader.Read(bytes, "mutant.model")));
        Assert.InRange(rejected, 1000, 10_000);
    }

    /// <summary>A mutant that parses must also be usable: the encoder may not crash on it either.</summary>
    private static void ReadAndUse(SentencePieceModel model)
    {
        var bpe = new SentencePieceBpe(model);
        var ids = bpe.Encode("Once upon a time, Lily saw a ½ 🚀.", true, true);
        bpe.Decode(ids);
    }

    private static int FindPiece(byte[] model, string piece)
    {
        // A piece field is tag 0x0A, length, bytes, directly inside a SentencePiece message.
        var needle = new byte[] { 0x0A, (byte)Encoding.UTF8.GetByteCount(piece) }.Concat(Encoding.UTF8.GetBytes(piece)).Append((byte)0x15).ToArray();
        int i = IndexOf(model, needle, 0);
        Assert.True(i >= 0);
        return i + 2;
    }

    private static int IndexOf(byte[] hay, byte[] needle, int from) => hay.AsSpan(from).IndexOf(needle) is var i and >= 0 ? i + from : -1;
}
