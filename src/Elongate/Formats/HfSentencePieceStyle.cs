using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// SentencePiece-style tokenizer.json (Llama 2, Mistral, TinyLlama: model BPE with byte_fallback, "▁" for a space),
/// turned back into the SentencePiece vocabulary it was converted from, so that <see cref="SentencePieceBpe"/> and
/// GGUF (tokenizer.ggml.model "llama") can use it.
/// </summary>
/// <remarks>
/// transformers' converter lists, for every piece, each split into two pieces as a merge, ordered by the piece's
/// score. Merging by rank over such a list is SentencePiece's merging by score, so each piece gets the score
/// −(position of its merges in rank order), which orders pieces exactly as the ranks do. That holds only when the
/// list is complete (every split of a piece into two mergeable pieces is listed) and a piece's merges are adjacent
/// in rank; both are checked, and a file that fails either is refused with advice to use tokenizer.model, because
/// SentencePiece merging could then differ from the tokenizers library's. Settings other than Llama's (dummy-prefix
/// space and "▁" for spaces, no whitespace collapsing) are refused too: GGUF cannot record them.
/// </remarks>
internal static class HfSentencePieceStyle
{
    private const string Meta = "\u2581";

    /// <summary>Whether the file spells spaces as "▁" (Metaspace pre-tokenizer or a Replace normalizer) rather than byte-level.</summary>
    public static bool Detect(HfJsonNode root)
    {
        if (root.Get("pre_tokenizer") is { } pre && pre.Kind == System.Text.Json.JsonValueKind.Object
            && pre.Get("type") is { Kind: System.Text.Json.JsonValueKind.String } t && t.String() == "Metaspace") return true;
        if (root.Get("normalizer") is { } n && n.Kind == System.Text.Json.JsonValueKind.Object)
            foreach (var step in Normalizers(n))
                if (step.Get("type") is { Kind: System.Text.Json.JsonValueKind.String } st && st.String() is "Replace" or "Prepend") return true;
        return false;
    }

    private static IEnumerable<HfJsonNode> Normalizers(HfJsonNode n)
    {
        if (n.Get("type") is { Kind: System.Text.Json.JsonValueKind.String } t && t.String() == "Sequence"
            && n.Get("normalizers") is { Kind: System.Text.Json.JsonValueKind.Array } list)
            return list.Items();
        return [n];
    }

    /// <summary>The SentencePiece vocabulary; special ids are filled in by the caller.</summary>
    public static TokenVocabulary Build(HfJsonNode root, string[] pieces, TokenType[] types, string[] merges,
        Dictionary<string, int> ids, int unk, bool ignoreMerges, string source)
    {
        if (ignoreMerges) throw new ModelFormatException(source, "ignore_merges is not a SentencePiece setting; use tokenizer.model", key: "model.ignore_merges");
        CheckSettings(root, source);
        bool byteFallback = root.Require("model").Get("byte_fallback")?.Bool() ?? false;

        int n = pieces.Length;
        types = (TokenType[])types.Clone();
        int byteCount = 0;
        for (int i = 0; i < n; i++)
        {
            if (types[i] != TokenType.Normal) continue;
            if (i == unk) types[i] = TokenType.Unknown;
            else if (SentencePieceModel.TryParseBytePiece(pieces[i], out _))
            {
                types[i] = TokenType.Byte;
                byteCount++;
            }
        }
        if (unk >= 0 && types[unk] == TokenType.Control) types[unk] = TokenType.Unknown;
        // The encoder turns byte fallback on exactly when all 256 byte pieces are there (GGUF has no flag for it).
        if (byteFallback != (byteCount == 256))
            throw new ModelFormatException(source,
                $"byte_fallback is {(byteFallback ? "true" : "false")} but the vocabulary has {byteCount} of the 256 <0xNN> byte pieces; use tokenizer.model",
                key: "model.byte_fallback");
        if (!byteFallback && unk < 0)
            throw new ModelFormatException(source, "without byte_fallback the model needs an unk_token", key: "model.unk_token");

        var scores = Scores(pieces, types, merges, ids, source);
        return new TokenVocabulary
        {
            Pieces = pieces,
            Scores = scores,
            Types = types,
            Kind = VocabularyKind.SentencePiece,
            BosId = -1,
            EosId = -1,
            UnkId = unk,
            AddBos = false,
        };
    }

    private static bool Mergeable(TokenType t) => t is TokenType.Normal or TokenType.UserDefined or TokenType.Unused;

    /// <summary>Scores from merge ranks, after checking that SentencePiece merging by them equals merging by rank.</summary>
    private static float[] Scores(string[] pieces, TokenType[] types, string[] merges, Dictionary<string, int> ids, string source)
    {
        var scores = new float[pieces.Length];
        var block = new Dictionary<int, int>();
        var listed = new HashSet<long>();
        int current = -1, blocks = 0;
        for (int r = 0; r < merges.Length; r++)
        {
            var m = merges[r];
            int space = m.IndexOf(' ', 1);
            int l = ids[m[..space]], rt = ids[m[(space + 1)..]], result = ids[m[..space] + m[(space + 1)..]];
            string key = $"model.merges[{r}]";
            if (!Mergeable(types[l]) || !Mergeable(types[rt]))
                throw new ModelFormatException(source, $"merge '{SentencePieceModel.Printable(m)}' joins a {types[Mergeable(types[l]) ? rt : l]} piece, which SentencePiece never merges; use tokenizer.model", key: key);
            // A merge into a special piece never fires in SentencePiece, nor in the tokenizers library, which cuts
            // added tokens out of the text first.
            if (!Mergeable(types[result])) continue;
            listed.Add((long)l << 32 | (uint)rt);
            if (result == current) continue;
            if (block.ContainsKey(result))
                throw new ModelFormatException(source,
                    $"the merges into '{SentencePieceModel.Printable(pieces[result])}' are not adjacent in rank, so no SentencePiece score orders them as the file does; use tokenizer.model",
                    key: key);
            block[result] = blocks++;
            current = result;
        }
        // Completeness: SentencePiece merges any two adjacent pieces whose concatenation is a piece.
        for (int p = 0; p < pieces.Length; p++)
        {
            // UserDefined pieces are cut out of the text whole on both sides (added tokens in the tokenizers library).
            if (types[p] != TokenType.Normal) continue;
            var piece = pieces[p];
            for (int k = 1; k < piece.Length; k++)
            {
                if (char.IsLowSurrogate(piece[k]) && char.IsHighSurrogate(piece[k - 1])) continue;
                if (!ids.TryGetValue(piece[..k], out int l) || !Mergeable(types[l])) continue;
                if (!ids.TryGetValue(piece[k..], out int r) || !Mergeable(types[r])) continue;
                if (!listed.Contains((long)l << 32 | (uint)r))
                    throw new ModelFormatException(source,
                        $"'{SentencePieceModel.Printable(piece[..k])}' and '{SentencePieceModel.Printable(piece[k..])}' make the piece '{SentencePieceModel.Printable(piece)}' but model.merges does not list them, so SentencePiece merging would differ; use tokenizer.model",
                        key: "model.merges");
            }
        }
        // Earlier blocks score higher; pieces no merge makes keep 0 (they are single characters or never formed).
        foreach (var (piece, b) in block) scores[piece] = -1 - b;
        return scores;
    }

    /// <summary>
    /// Llama's SentencePiece settings, as transformers writes them: normalizer Prepend("▁") + Replace(" " → "▁") with no
    /// pre-tokenizer (legacy), or a Metaspace pre-tokenizer that prepends "▁" and does not split.
    /// </summary>
    private static void CheckSettings(HfJsonNode root, string source)
    {
        bool prepend = false, replace = false;
        if (root.Get("normalizer") is { } normalizer)
            foreach (var step in Normalizers(normalizer))
            {
                var typeNode = step.Require("type");
                switch (typeNode.String())
                {
                    case "Prepend" when step.Require("prepend").String() == Meta:
                        prepend = true;
                        break;
                    case "Replace" when step.Require("content").String() == Meta
                                        && step.Require("pattern").Get("String") is { } from && from.String() == " ":
                        replace = true;
                        break;
                    default:
                        throw typeNode.Error($"normalizer step '{typeNode.String()}' is not one of Llama's (Prepend \"▁\", Replace \" \" with \"▁\"); use tokenizer.model");
                }
            }
        if (root.Get("pre_tokenizer") is { } pre)
        {
            var typeNode = pre.Require("type");
            if (typeNode.String() != "Metaspace")
                throw typeNode.Error($"pre-tokenizer '{typeNode.String()}' does not belong to a SentencePiece-style tokenizer; use tokenizer.model");
            if (pre.Get("replacement") is { } rep && rep.String() != Meta) throw rep.Error("Metaspace replacement must be \"▁\"");
            if (pre.Get("split")?.Bool() ?? true)
                throw (pre.Get("split") ?? typeNode).Error("Metaspace split (words cut at every space) is not how SentencePiece merges; use tokenizer.model");
            // Older files say add_prefix_space, newer prepend_scheme ("always", "first" or "never").
            bool adds = pre.Get("prepend_scheme") is { } scheme ? scheme.String() != "never" : pre.Get("add_prefix_space")?.Bool() ?? true;
            if (adds) prepend = true;
            replace = true;
        }
        if (!prepend || !replace)
            throw new ModelFormatException(source,
                "this SentencePiece-style tokenizer does not prefix a space and spell spaces \"▁\" as Llama's does; GGUF cannot record other settings, use tokenizer.model",
                key: "normalizer");
    }
}
