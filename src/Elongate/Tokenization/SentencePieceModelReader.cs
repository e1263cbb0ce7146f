using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// Reads a SentencePiece <c>tokenizer.model</c> (a serialized sentencepiece.ModelProto) into a
/// <see cref="SentencePieceModel"/>. Only what changes BPE encoding is kept: pieces, scores, types, the special ids,
/// byte_fallback, and the normalizer's dummy-prefix / whitespace flags. The model type must be BPE, and normalizers
/// with a precompiled character map (NFKC and friends) are rejected because encoding would silently differ.
/// </summary>
public static class SentencePieceModelReader
{
    // sentencepiece_model.proto field numbers.
    private const int ModelPieces = 1, ModelTrainerSpec = 2, ModelNormalizerSpec = 3;
    private const int PiecePiece = 1, PieceScore = 2, PieceType = 3;
    private const int TrainerModelType = 3, TrainerVocabSize = 4, TrainerTreatWhitespaceAsSuffix = 24, TrainerByteFallback = 35,
        TrainerUnkId = 40, TrainerBosId = 41, TrainerEosId = 42, TrainerUnkSurface = 44;
    private const int NormName = 1, NormCharsMap = 2, NormAddDummyPrefix = 3, NormRemoveExtraWhitespaces = 4, NormEscapeWhitespaces = 5;
    private const int ModelTypeBpe = 2, ModelTypeUnigram = 1;

    /// <summary>Reads and validates a tokenizer.model file.</summary>
    /// <exception cref="ModelFormatException">The file is not a valid SentencePiece BPE model.</exception>
    public static SentencePieceModel Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
        return Read(bytes, path);
    }

    /// <summary>Parses ModelProto bytes; <paramref name="source"/> names the data in error messages.</summary>
    /// <exception cref="ModelFormatException">The bytes are not a valid SentencePiece BPE model.</exception>
    public static SentencePieceModel Read(ReadOnlySpan<byte> data, string source = "<memory>")
    {
        var pieces = new List<string>();
        var scores = new List<float>();
        var types = new List<TokenType>();
        var trainer = new TrainerState();
        var norm = new NormalizerState();

        var r = new ProtobufWireReader(data, 0, source);
        while (!r.AtEnd)
        {
            long tagAt = r.Offset;
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case ModelPieces:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    var msg = r.ReadLengthDelimited(out int off);
                    ReadPiece(msg, off, source, pieces.Count, pieces, scores, types);
                    break;
                case ModelTrainerSpec:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    msg = r.ReadLengthDelimited(out off);
                    ReadTrainerSpec(msg, off, source, ref trainer);
                    break;
                case ModelNormalizerSpec:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    msg = r.ReadLengthDelimited(out off);
                    ReadNormalizerSpec(msg, off, source, ref norm);
                    break;
                default:
                    r.Skip(wire); // self_test_data, denormalizer_spec, extensions: irrelevant to encoding.
                    break;
            }
        }

        if (pieces.Count == 0) throw new ModelFormatException(source, "model has no pieces (not a SentencePiece tokenizer.model?)", 0);
        if (trainer.ModelType != ModelTypeBpe)
            throw new ModelFormatException(source,
                $"model type is {ModelTypeName(trainer.ModelType)}, but only BPE (Llama-style) SentencePiece models are supported", key: "trainer_spec.model_type");
        if (trainer.TreatWhitespaceAsSuffix)
            throw new ModelFormatException(source, "treat_whitespace_as_suffix models are not supported", key: "trainer_spec.treat_whitespace_as_suffix");
        if (norm.CharsMapLength > 0)
            throw new ModelFormatException(source,
                $"normalizer '{norm.Name}' uses a precompiled character map ({norm.CharsMapLength} bytes); only identity normalization is supported",
                key: "normalizer_spec.precompiled_charsmap");
        if (!norm.EscapeWhitespaces)
            throw new ModelFormatException(source, "escape_whitespaces=false is not supported", key: "normalizer_spec.escape_whitespaces");

        var vocab = new TokenVocabulary
        {
            Pieces = pieces.ToArray(),
            Scores = scores.ToArray(),
            Types = types.ToArray(),
            UnkId = trainer.UnkId,
            BosId = trainer.BosId,
            EosId = trainer.EosId,
            AddBos = trainer.BosId >= 0,
            AddEos = false,
        };
        var options = new SentencePieceOptions
        {
            AddDummyPrefix = norm.AddDummyPrefix,
            RemoveExtraWhitespaces = norm.RemoveExtraWhitespaces,
            EscapeWhitespaces = norm.EscapeWhitespaces,
            ByteFallback = trainer.ByteFallback,
            UnknownSurface = trainer.UnkSurface,
        };
        SentencePieceModel.Validate(vocab, options, source);
        return new SentencePieceModel(vocab, options);
    }

    private static void ReadPiece(ReadOnlySpan<byte> msg, int baseOffset, string source, int index,
        List<string> pieces, List<float> scores, List<TokenType> types)
    {
        string? piece = null;
        float score = 0;
        int type = (int)TokenType.Normal; // proto2 default
        long typeAt = baseOffset;
        var r = new ProtobufWireReader(msg, baseOffset, source);
        while (!r.AtEnd)
        {
            long tagAt = r.Offset;
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case PiecePiece:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    var bytes = r.ReadLengthDelimited(out int off);
                    piece = SentencePieceModel.DecodePiece(bytes, off, source, $"piece {index}");
                    break;
                case PieceScore:
                    r.Expect(wire, ProtobufWireReader.WireFixed32, field, tagAt);
                    long scoreAt = r.Offset;
                    score = r.ReadFloat();
                    if (!float.IsFinite(score)) throw r.Error($"piece {index} has non-finite score {score}", scoreAt);
                    break;
                case PieceType:
                    r.Expect(wire, ProtobufWireReader.WireVarint, field, tagAt);
                    typeAt = r.Offset;
                    type = r.ReadInt32();
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }
        if (string.IsNullOrEmpty(piece)) throw new ModelFormatException(source, $"piece {index} has no text", baseOffset);
        if (type is < (int)TokenType.Normal or > (int)TokenType.Byte)
            throw new ModelFormatException(source, $"piece {index} has unknown type {type}", typeAt);
        pieces.Add(piece);
        scores.Add(score);
        types.Add((TokenType)type);
    }

    private static void ReadTrainerSpec(ReadOnlySpan<byte> msg, int baseOffset, string source, ref TrainerState t)
    {
        var r = new ProtobufWireReader(msg, baseOffset, source);
        while (!r.AtEnd)
        {
            long tagAt = r.Offset;
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case TrainerModelType: r.Expect(wire, 0, field, tagAt); t.ModelType = r.ReadInt32(); break;
                case TrainerVocabSize: r.Expect(wire, 0, field, tagAt); r.ReadInt32(); break;
                case TrainerTreatWhitespaceAsSuffix: r.Expect(wire, 0, field, tagAt); t.TreatWhitespaceAsSuffix = r.ReadBool(); break;
                case TrainerByteFallback: r.Expect(wire, 0, field, tagAt); t.ByteFallback = r.ReadBool(); break;
                case TrainerUnkId: r.Expect(wire, 0, field, tagAt); t.UnkId = r.ReadInt32(); break;
                case TrainerBosId: r.Expect(wire, 0, field, tagAt); t.BosId = r.ReadInt32(); break;
                case TrainerEosId: r.Expect(wire, 0, field, tagAt); t.EosId = r.ReadInt32(); break;
                case TrainerUnkSurface:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    var bytes = r.ReadLengthDelimited(out int off);
                    t.UnkSurface = SentencePieceModel.DecodePiece(bytes, off, source, "trainer_spec.unk_surface");
                    break;
                default: r.Skip(wire); break;
            }
        }
    }

    private static void ReadNormalizerSpec(ReadOnlySpan<byte> msg, int baseOffset, string source, ref NormalizerState n)
    {
        var r = new ProtobufWireReader(msg, baseOffset, source);
        while (!r.AtEnd)
        {
            long tagAt = r.Offset;
            var (field, wire) = r.ReadTag();
            switch (field)
            {
                case NormName:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    var bytes = r.ReadLengthDelimited(out int off);
                    n.Name = SentencePieceModel.DecodePiece(bytes, off, source, "normalizer_spec.name");
                    break;
                case NormCharsMap:
                    r.Expect(wire, ProtobufWireReader.WireLengthDelimited, field, tagAt);
                    n.CharsMapLength = r.ReadLengthDelimited(out _).Length;
                    break;
                case NormAddDummyPrefix: r.Expect(wire, 0, field, tagAt); n.AddDummyPrefix = r.ReadBool(); break;
                case NormRemoveExtraWhitespaces: r.Expect(wire, 0, field, tagAt); n.RemoveExtraWhitespaces = r.ReadBool(); break;
                case NormEscapeWhitespaces: r.Expect(wire, 0, field, tagAt); n.EscapeWhitespaces = r.ReadBool(); break;
                default: r.Skip(wire); break;
            }
        }
    }

    private static string ModelTypeName(int t) => t switch
    {
        ModelTypeUnigram => "UNIGRAM",
        ModelTypeBpe => "BPE",
        3 => "WORD",
        4 => "CHAR",
        _ => $"unknown ({t})",
    };

    // proto2 defaults from sentencepiece_model.proto.
    private struct TrainerState()
    {
        public int ModelType = ModelTypeUnigram;
        public bool TreatWhitespaceAsSuffix = false;
        public bool ByteFallback = false;
        public int UnkId = 0, BosId = 1, EosId = 2;
        public string UnkSurface = " \u2047 ";
    }

    private struct NormalizerState()
    {
        public string Name = "";
        public int CharsMapLength = 0;
        public bool AddDummyPrefix = true, RemoveExtraWhitespaces = true, EscapeWhitespaces = true;
    }
}
