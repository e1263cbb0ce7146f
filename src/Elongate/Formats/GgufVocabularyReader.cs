using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Reads a vocabulary from GGUF tokenizer.ggml.* keys — SentencePiece ("llama") or byte-level BPE ("gpt2") — from a
/// full model or from a tokenizer-only file such as llama.cpp's models/ggml-vocab-*.gguf (0 tensors), whatever the
/// file's architecture. No tensor data is touched.
/// </summary>
public static class GgufVocabularyReader
{
    /// <summary>tokenizer.ggml.model value for SentencePiece vocabularies (Llama 1/2, Mistral, TinyLlama, Phi-3…).</summary>
    public const string SentencePieceModel = "llama";

    /// <summary>tokenizer.ggml.model value for byte-level BPE vocabularies (Llama 3, DeepSeek, SmolLM, Qwen2…).</summary>
    public const string BytePairModel = "gpt2";

    /// <summary>Opens <paramref name="path"/> and reads its vocabulary.</summary>
    public static TokenVocabulary ReadFile(string path)
    {
        using var file = GgufFile.Open(path);
        return Read(file);
    }

    /// <summary>True when the file carries a vocabulary of a kind this reader understands.</summary>
    public static bool HasVocabulary(GgufFile file) =>
        file.TryGetValue("tokenizer.ggml.model", out var v) && v is SentencePieceModel or BytePairModel;

    /// <summary>
    /// GGUF has no per-token strip attributes; llama.cpp restores Phi-3's from its tokenizer.json by name (every
    /// special token and "&lt;/s&gt;" swallow whitespace after them, except &lt;unk&gt;, &lt;s&gt; and
    /// &lt;|endoftext|&gt;), and so do we, so "&lt;|user|&gt;\n" encodes as llama.cpp does.
    /// </summary>
    private static TokenStrip[]? Phi3Strip(GgufFile file, string[] tokens, TokenType[] types)
    {
        var name = file.TryGetValue("general.name", out var n) && n is string s ? s.ToLowerInvariant() : "";
        if (!name.Contains("phi-3") && !name.Contains("phi3")) return null;
        var strip = new TokenStrip[tokens.Length];
        for (int i = 0; i < tokens.Length; i++)
            if (types[i] is TokenType.Control or TokenType.UserDefined or TokenType.Unknown || tokens[i] == "</s>")
                strip[i] = TokenStrip.Right;
        for (int i = 0; i < tokens.Length; i++)
            if (tokens[i] is "<unk>" or "<s>" or "<|endoftext|>") strip[i] = TokenStrip.None;
        return strip;
    }

    /// <summary>
    /// The vocabulary. Scores and types are optional in GGUF (llama.cpp then uses 0 and Normal); when present their
    /// lengths must match the token list. Special ids must lie inside the vocabulary. A byte-level BPE vocabulary must
    /// have merges and a pre-tokenizer Elongate knows (a missing tokenizer.ggml.pre is llama.cpp's "default").
    /// </summary>
    /// <exception cref="ModelFormatException">A key is missing, of the wrong type or inconsistent; the message names it.</exception>
    public static TokenVocabulary Read(GgufFile file)
    {
        var model = file.GetString("tokenizer.ggml.model");
        bool bpe = model == BytePairModel;
        if (!bpe && model != SentencePieceModel)
            throw new ModelFormatException(file.Source,
                $"tokenizer '{model}' is not supported; Elongate reads SentencePiece ('{SentencePieceModel}') and byte-level BPE ('{BytePairModel}') vocabularies",
                key: "tokenizer.ggml.model");
        var tokens = file.GetArray<string>("tokenizer.ggml.tokens", GgufValueType.String);
        int n = tokens.Length;
        if (n == 0) throw new ModelFormatException(file.Source, "vocabulary is empty", key: "tokenizer.ggml.tokens");

        float[] scores;
        if (file.ContainsKey("tokenizer.ggml.scores"))
        {
            scores = file.GetArray<float>("tokenizer.ggml.scores", GgufValueType.Float32);
            if (scores.Length != n)
                throw new ModelFormatException(file.Source, $"has {scores.Length} scores for {n} tokens", key: "tokenizer.ggml.scores");
        }
        else scores = new float[n];

        var types = new TokenType[n];
        if (file.ContainsKey("tokenizer.ggml.token_type"))
        {
            var raw = file.GetArray<int>("tokenizer.ggml.token_type", GgufValueType.Int32);
            if (raw.Length != n)
                throw new ModelFormatException(file.Source, $"has {raw.Length} token types for {n} tokens", key: "tokenizer.ggml.token_type");
            for (int i = 0; i < n; i++)
            {
                if (raw[i] < (int)TokenType.Normal || raw[i] > (int)TokenType.Byte)
                    throw new ModelFormatException(file.Source, $"token {i} has unknown type {raw[i]}", key: "tokenizer.ggml.token_type");
                types[i] = (TokenType)raw[i];
            }
        }
        else Array.Fill(types, TokenType.Normal);
        // As llama.cpp on load: end-of-generation pieces are control tokens whatever the file says ("control-looking
        // token ... its type will be overridden"), so they are special only when special tokens are parsed.
        var endOfGeneration = new HashSet<string>(TokenVocabulary.EndOfGenerationPieces, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
            if (types[i] is TokenType.Normal or TokenType.UserDefined && endOfGeneration.Contains(tokens[i])) types[i] = TokenType.Control;

        string[]? merges = null;
        string? pre = null;
        if (bpe)
        {
            if (!file.ContainsKey("tokenizer.ggml.merges"))
                throw new ModelFormatException(file.Source, "byte-level BPE vocabulary has no merges", key: "tokenizer.ggml.merges");
            merges = file.GetArray<string>("tokenizer.ggml.merges", GgufValueType.String);
            pre = file.ContainsKey("tokenizer.ggml.pre") ? file.GetString("tokenizer.ggml.pre") : "default";
            if (!PreTokenizer.IsKnown(pre))
                throw new ModelFormatException(file.Source,
                    $"unknown pre-tokenizer '{pre}'; Elongate knows: {string.Join(", ", PreTokenizer.Names.Order(StringComparer.Ordinal))}", key: "tokenizer.ggml.pre");
        }

        int Id(string key, int fallback)
        {
            if (!file.ContainsKey(key)) return fallback;
            long v = file.GetInteger(key);
            if (v < 0 || v >= n) throw new ModelFormatException(file.Source, $"token id {v} is outside the {n}-token vocabulary", key: key);
            return (int)v;
        }
        bool Flag(string key, bool fallback) => file.ContainsKey(key) ? file.GetBool(key) : fallback;

        // llama.cpp's defaults: SentencePiece bos 1, eos 2, unk 0 and add_bos; byte-level BPE has no unknown piece and
        // adds BOS only for the pre-tokenizers that say so (the Llama 3 family).
        int bos = Id("tokenizer.ggml.bos_token_id", bpe ? -1 : Math.Min(1, n - 1));
        bool addBos = Flag("tokenizer.ggml.add_bos_token", bpe ? PreTokenizer.ForName(pre!).AddsBos : true);
        if (addBos && bos < 0)
            throw new ModelFormatException(file.Source, "add_bos_token is true, but tokenizer.ggml.bos_token_id is not set", key: "tokenizer.ggml.add_bos_token");
        int eos = Id("tokenizer.ggml.eos_token_id", bpe ? -1 : Math.Min(2, n - 1));
        bool addEos = Flag("tokenizer.ggml.add_eos_token", false);
        if (addEos && eos < 0)
            throw new ModelFormatException(file.Source, "add_eos_token is true, but tokenizer.ggml.eos_token_id is not set", key: "tokenizer.ggml.add_eos_token");

        return new TokenVocabulary
        {
            Strip = Phi3Strip(file, tokens, types),
            Pieces = tokens,
            Scores = scores,
            Types = types,
            Kind = bpe ? VocabularyKind.BytePairEncoding : VocabularyKind.SentencePiece,
            Merges = merges,
            PreTokenizer = pre,
            BosId = bos,
            EosId = eos,
            UnkId = Id("tokenizer.ggml.unknown_token_id", bpe ? -1 : 0),
            EotId = Id("tokenizer.ggml.eot_token_id", -1),
            EomId = Id("tokenizer.ggml.eom_token_id", -1),
            PadId = Id("tokenizer.ggml.padding_token_id", -1),
            AddBos = addBos,
            AddEos = addEos,
            ChatTemplate = file.ContainsKey("tokenizer.chat_template") ? file.GetString("tokenizer.chat_template") : null,
        };
    }
}
