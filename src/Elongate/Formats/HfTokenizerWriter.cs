using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// Writes a vocabulary as Hugging Face tokenizer.json and tokenizer_config.json, laid out as the tokenizers library
/// and transformers write them, so that PreTrainedTokenizerFast loads the folder and <see cref="HfTokenizerReader"/>
/// reads it back with the same ids: byte-level BPE with its merges and the named pre-tokenizer's steps, or
/// SentencePiece-style BPE (byte_fallback, "▁") with merges listed the way transformers' converter lists them.
/// </summary>
public static class HfTokenizerWriter
{
    private const string Meta = "\u2581";

    /// <summary>
    /// Whether <paramref name="vocabulary"/> can be written as a tokenizer.json; <paramref name="reason"/> says why not.
    /// Byte-level BPE can when its pre-tokenizer is known. SentencePiece cannot when an Unused piece can be made by
    /// merging (SentencePiece makes it and splits it back, which BPE ranks cannot say).
    /// </summary>
    /// <remarks>
    /// SentencePiece pieces that share a score (Llama 2's runs of "▁", all −1e9) are merged leftmost first by
    /// SentencePiece, while BPE ranks put one before the other; the file lists them by id, as transformers' converter
    /// does, so it encodes as transformers' own conversion of the same tokenizer.model would, which can differ from
    /// SentencePiece on long runs of such pieces.
    /// </remarks>
    public static bool CanWrite(TokenVocabulary vocabulary, out string? reason)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        reason = null;
        if (vocabulary.Kind == VocabularyKind.BytePairEncoding)
        {
            if (!PreTokenizer.IsKnown(vocabulary.PreTokenizer ?? "default")) reason = $"unknown pre-tokenizer '{vocabulary.PreTokenizer}'";
            return reason is null;
        }
        var ids = PieceIds(vocabulary);
        for (int p = 0; p < vocabulary.Count; p++)
            if (vocabulary.Types[p] == TokenType.Unused && Splits(vocabulary, ids, p).Count > 0)
            {
                reason = $"unused piece '{SentencePieceModel.Printable(vocabulary.Pieces[p])}' can be made by merging";
                return false;
            }
        return true;
    }

    /// <summary>The tokenizer.json content.</summary>
    /// <exception cref="ArgumentException">The vocabulary cannot be written exactly (<see cref="CanWrite"/>).</exception>
    public static byte[] TokenizerJson(TokenVocabulary vocabulary)
    {
        if (!CanWrite(vocabulary, out var reason)) throw new ArgumentException($"vocabulary cannot be written as tokenizer.json: {reason}", nameof(vocabulary));
        bool bpe = vocabulary.Kind == VocabularyKind.BytePairEncoding;
        var added = new JsonArray();
        for (int i = 0; i < vocabulary.Count; i++)
        {
            var t = vocabulary.Types[i];
            if (t is not (TokenType.Control or TokenType.UserDefined or TokenType.Unknown)) continue;
            var strip = StripOf(vocabulary, i);
            added.Add(new JsonObject
            {
                ["id"] = i, ["content"] = vocabulary.Pieces[i], ["single_word"] = false,
                ["lstrip"] = (strip & TokenStrip.Left) != 0, ["rstrip"] = (strip & TokenStrip.Right) != 0,
                ["normalized"] = false, ["special"] = t != TokenType.UserDefined,
            });
        }
        var vocab = new JsonObject();
        for (int i = 0; i < vocabulary.Count; i++)
        {
            // Byte-level files keep added tokens out of model.vocab (as Llama 3's); SentencePiece-style ones list every
            // piece there (as Llama 2's), added tokens included.
            if (bpe && vocabulary.Types[i] is TokenType.Control or TokenType.UserDefined) continue;
            vocab[vocabulary.Pieces[i]] = i;
        }
        var merges = bpe ? (vocabulary.Merges ?? []).Select(SplitMerge).ToList() : SentencePieceMerges(vocabulary);
        // "left right" strings are what every tokenizers version reads; pairs are needed only when a piece has a space.
        bool pairs = merges.Any(m => m.Left.Contains(' ') || m.Right.Contains(' '));
        var mergeArray = new JsonArray();
        foreach (var (l, r) in merges) mergeArray.Add(pairs ? new JsonArray(l, r) : JsonValue.Create($"{l} {r}"));

        bool byteFallback = !bpe && vocabulary.Types.Count(t => t == TokenType.Byte) == 256;
        var model = new JsonObject
        {
            ["type"] = "BPE", ["dropout"] = null,
            ["unk_token"] = vocabulary.UnkId >= 0 ? vocabulary.Pieces[vocabulary.UnkId] : null,
            ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null, ["fuse_unk"] = !bpe, ["byte_fallback"] = byteFallback,
            ["ignore_merges"] = bpe && PreTokenizer.ForName(vocabulary.PreTokenizer ?? "default").IgnoreMerges,
            ["vocab"] = vocab, ["merges"] = mergeArray,
        };
        var root = new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added,
            ["normalizer"] = bpe ? null : new JsonObject
            {
                ["type"] = "Sequence",
                ["normalizers"] = new JsonArray(
                    new JsonObject { ["type"] = "Prepend", ["prepend"] = Meta },
                    new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = " " }, ["content"] = Meta }),
            },
            ["pre_tokenizer"] = bpe ? HfPreTokenizers.ToJson(HfPreTokenizers.ForName(vocabulary.PreTokenizer ?? "default")) : null,
            ["post_processor"] = PostProcessor(vocabulary),
            ["decoder"] = bpe
                ? new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true }
                : new JsonObject
                {
                    ["type"] = "Sequence",
                    ["decoders"] = new JsonArray(
                        new JsonObject { ["type"] = "Replace", ["pattern"] = new JsonObject { ["String"] = Meta }, ["content"] = " " },
                        new JsonObject { ["type"] = "ByteFallback" },
                        new JsonObject { ["type"] = "Fuse" },
                        new JsonObject { ["type"] = "Strip", ["content"] = " ", ["start"] = 1, ["stop"] = 0 }),
                },
            ["model"] = model,
        };
        return Serialize(root);
    }

    /// <summary>The tokenizer_config.json content: special tokens, add_bos_token/add_eos_token, chat template.</summary>
    public static byte[] TokenizerConfigJson(TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        string? Piece(int id) => (uint)id < (uint)vocabulary.Count ? vocabulary.Pieces[id] : null;
        var decoder = new JsonObject();
        for (int i = 0; i < vocabulary.Count; i++)
            if (vocabulary.Types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown)
                decoder[i.ToString(System.Globalization.CultureInfo.InvariantCulture)] = new JsonObject
                {
                    ["content"] = vocabulary.Pieces[i], ["lstrip"] = (StripOf(vocabulary, i) & TokenStrip.Left) != 0, ["normalized"] = false,
                    ["rstrip"] = (StripOf(vocabulary, i) & TokenStrip.Right) != 0,
                    ["single_word"] = false, ["special"] = vocabulary.Types[i] != TokenType.UserDefined,
                };
        var root = new JsonObject
        {
            ["add_bos_token"] = vocabulary.AddBos,
            ["add_eos_token"] = vocabulary.AddEos,
            ["added_tokens_decoder"] = decoder,
            ["bos_token"] = Piece(vocabulary.BosId),
            ["clean_up_tokenization_spaces"] = false,
            ["eos_token"] = Piece(vocabulary.EosId),
            ["pad_token"] = Piece(vocabulary.PadId),
            ["tokenizer_class"] = vocabulary.Kind == VocabularyKind.BytePairEncoding ? "PreTrainedTokenizerFast" : "LlamaTokenizerFast",
            ["unk_token"] = Piece(vocabulary.UnkId),
        };
        if (vocabulary.ChatTemplate is not null) root["chat_template"] = vocabulary.ChatTemplate;
        return Serialize(root);
    }

    /// <summary>Writes both files into <paramref name="directory"/> through <paramref name="staged"/>; returns their names.</summary>
    internal static IEnumerable<string> Stage(StagedFiles staged, string directory, TokenVocabulary vocabulary)
    {
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, HfTokenizerReader.FileName)), TokenizerJson(vocabulary));
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, HfTokenizerReader.ConfigFileName)), TokenizerConfigJson(vocabulary));
        return [HfTokenizerReader.FileName, HfTokenizerReader.ConfigFileName];
    }

    /// <summary>
    /// A TemplateProcessing that adds BOS and/or EOS around the text, as Llama 3's and Llama 2's tokenizer.json do
    /// (PreTrainedTokenizerFast adds special tokens only through it); null when neither is added.
    /// </summary>
    private static JsonObject? PostProcessor(TokenVocabulary v)
    {
        bool bos = v.AddBos && v.BosId >= 0, eos = v.AddEos && v.EosId >= 0;
        if (!bos && !eos) return null;
        JsonObject Special(int id, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = v.Pieces[id], ["type_id"] = typeId } };
        JsonObject Sequence(string name, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = name, ["type_id"] = typeId } };
        JsonArray Part(string name, int typeId)
        {
            var a = new JsonArray();
            if (bos) a.Add(Special(v.BosId, typeId));
            a.Add(Sequence(name, typeId));
            if (eos) a.Add(Special(v.EosId, typeId));
            return a;
        }
        var pair = Part("A", 0);
        foreach (var item in Part("B", 1)) pair.Add(item!.DeepClone());
        var specials = new JsonObject();
        foreach (var id in new[] { bos ? v.BosId : -1, eos ? v.EosId : -1 })
            if (id >= 0 && !specials.ContainsKey(v.Pieces[id]))
                specials[v.Pieces[id]] = new JsonObject { ["id"] = v.Pieces[id], ["ids"] = new JsonArray(id), ["tokens"] = new JsonArray(v.Pieces[id]) };
        return new JsonObject { ["type"] = "TemplateProcessing", ["single"] = Part("A", 0), ["pair"] = pair, ["special_tokens"] = specials };
    }

    /// <summary>
    /// transformers' converter's merges for a SentencePiece vocabulary: for each piece that merging can make, best score
    /// first (ties by id), every split into two mergeable pieces, ordered by the ids of the two sides.
    /// </summary>
    private static List<(string Left, string Right)> SentencePieceMerges(TokenVocabulary v)
    {
        var ids = PieceIds(v);
        var order = Enumerable.Range(0, v.Count).Where(p => v.Types[p] == TokenType.Normal)
            .OrderByDescending(p => v.Scores[p]).ThenBy(p => p);
        var merges = new List<(string, string)>();
        foreach (int p in order)
            foreach (var (l, r) in Splits(v, ids, p).OrderBy(s => s.Left).ThenBy(s => s.Right))
                merges.Add((v.Pieces[l], v.Pieces[r]));
        return merges;
    }

    /// <summary>The (left id, right id) splits of piece <paramref name="p"/> into two pieces SentencePiece merges.</summary>
    private static List<(int Left, int Right)> Splits(TokenVocabulary v, Dictionary<string, int> ids, int p)
    {
        var result = new List<(int, int)>();
        var piece = v.Pieces[p];
        for (int k = 1; k < piece.Length; k++)
        {
            if (char.IsLowSurrogate(piece[k]) && char.IsHighSurrogate(piece[k - 1])) continue;
            if (ids.TryGetValue(piece[..k], out int l) && Mergeable(v.Types[l]) && ids.TryGetValue(piece[k..], out int r) && Mergeable(v.Types[r]))
                result.Add((l, r));
        }
        return result;
    }

    /// <summary>A GGUF "left right" merge split as llama.cpp splits it: at the first space after the first character.</summary>
    private static (string Left, string Right) SplitMerge(string merge)
    {
        int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
        if (space < 0) throw new ArgumentException($"merge '{SentencePieceModel.Printable(merge)}' is not two pieces separated by a space");
        return (merge[..space], merge[(space + 1)..]);
    }

    private static TokenStrip StripOf(TokenVocabulary v, int id) => v.Strip is { } s && id < s.Length ? s[id] : TokenStrip.None;

    private static bool Mergeable(TokenType t) => t is TokenType.Normal or TokenType.UserDefined or TokenType.Unused;

    private static Dictionary<string, int> PieceIds(TokenVocabulary v)
    {
        var ids = new Dictionary<string, int>(v.Count, StringComparer.Ordinal);
        for (int i = 0; i < v.Count; i++) ids.TryAdd(v.Pieces[i], i);
        return ids;
    }

    private static byte[] Serialize(JsonObject root) => JsonSerializer.SerializeToUtf8Bytes(root, new JsonSerializerOptions
    {
        WriteIndented = true,
        // Pieces are written as they are ("Ġthe", "▁", "你好"), as the tokenizers library writes them.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
