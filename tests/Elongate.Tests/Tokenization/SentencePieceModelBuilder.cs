using System.Text;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Writes small sentencepiece ModelProto files in tests (protobuf wire format by hand), so algorithm corner cases and
/// malformed files can be built without fixtures. Field numbers follow sentencepiece_model.proto.
/// </summary>
public sealed class SentencePieceModelBuilder
{
    public List<(string Piece, float Score, TokenType Type)> Pieces { get; } = [];
    public int ModelType { get; set; } = 2; // BPE
    public bool ByteFallback { get; set; }
    public bool AddDummyPrefix { get; set; } = true;
    public bool RemoveExtraWhitespaces { get; set; }

    /// <summary>Starts with &lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; (ids 0-2), optionally the 256 byte pieces, then the given normal pieces (score = -index).</summary>
    public static SentencePieceModelBuilder WithSpecials(bool bytes, params string[] normal)
    {
        var b = new SentencePieceModelBuilder { ByteFallback = bytes };
        b.Pieces.Add(("<unk>", 0, TokenType.Unknown));
        b.Pieces.Add(("<s>", 0, TokenType.Control));
        b.Pieces.Add(("</s>", 0, TokenType.Control));
        if (bytes)
            for (int i = 0; i < 256; i++) b.Pieces.Add(($"<0x{i:X2}>", 0, TokenType.Byte));
        for (int i = 0; i < normal.Length; i++) b.Pieces.Add((normal[i], -i, TokenType.Normal));
        return b;
    }

    public int IdOf(string piece) => Pieces.FindIndex(p => p.Piece == piece);

    public byte[] Build()
    {
        var model = new MemoryStream();
        foreach (var (piece, score, type) in Pieces)
        {
            var sp = new MemoryStream();
            WriteBytes(sp, 1, Encoding.UTF8.GetBytes(piece));
            WriteTag(sp, 2, 5);
            sp.Write(BitConverter.GetBytes(score));
            WriteTag(sp, 3, 0);
            WriteVarint(sp, (ulong)type);
            WriteBytes(model, 1, sp.ToArray());
        }
        var trainer = new MemoryStream();
        WriteTag(trainer, 3, 0); WriteVarint(trainer, (ulong)ModelType);
        WriteTag(trainer, 4, 0); WriteVarint(trainer, (ulong)Pieces.Count);
        WriteTag(trainer, 35, 0); WriteVarint(trainer, ByteFallback ? 1UL : 0UL);
        WriteBytes(model, 2, trainer.ToArray());
        var norm = new MemoryStream();
        WriteBytes(norm, 1, "identity"u8.ToArray());
        WriteTag(norm, 3, 0); WriteVarint(norm, AddDummyPrefix ? 1UL : 0UL);
        WriteTag(norm, 4, 0); WriteVarint(norm, RemoveExtraWhitespaces ? 1UL : 0UL);
        WriteBytes(model, 3, norm.ToArray());
        return model.ToArray();
    }

    public SentencePieceBpe Encoder() => new(SentencePieceModelReader.Read(Build(), "<built>"));

    public static void WriteTag(Stream s, int field, int wire) => WriteVarint(s, (ulong)(field << 3 | wire));

    public static void WriteVarint(Stream s, ulong v)
    {
        while (v >= 0x80) { s.WriteByte((byte)(v | 0x80)); v >>= 7; }
        s.WriteByte((byte)v);
    }

    public static void WriteBytes(Stream s, int field, byte[] payload)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)payload.Length);
        s.Write(payload);
    }
}
