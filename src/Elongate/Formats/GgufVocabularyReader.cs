using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Reads a SentencePiece ("llama") vocabulary from GGUF tokenizer.ggml.* keys: from a full model or from a
/// tokenizer-only file such as llama.cpp's models/ggml-vocab-llama-spm.gguf (0 tensors). No tensor data is touched.
/// </summary>
public static class GgufVocabularyReader
{
    /// <summary>tokenizer.ggml.model value for SentencePiece vocabularies (Llama 1/2, Mistral, TinyLlama…).</summary>
    public const string SentencePieceModel = "llama";

    /// <summary>Opens <paramref name="path"/> and reads its vocabulary.</summary>
    public static TokenVocabulary ReadFile(string path)
    {
        using var file = GgufFile.Open(path);
        return Read(file);
    }

    /// <summary>True when the file carries a SentencePiece vocabulary this reader understands.</summary>
    public static bool HasSentencePieceVocabulary(GgufFile file) =>
        file.TryGetValue("tokenizer.ggml.model", out var v) && v is string s && s == SentencePieceModel;

    /// <summary>
    /// The vocabulary. Scores and types are optional in GGUF (llama.cpp then uses 0 and Normal); when present their
    /// lengths must match the token list. Special ids must lie inside the vocabulary.
    /// </summary>
    public static TokenVocabulary Read(GgufFile file)
    {
        var model = file.GetString("tokenizer.ggml.model");
        if (model != SentencePieceModel)
            throw new ModelFormatException(file.Source,
                $"tokenizer '{model}' is not supported; only SentencePiece vocabularies ('{SentencePieceModel}') are", key: "tokenizer.ggml.model");
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

        int Id(string key, int fallback)
        {
            if (!file.ContainsKey(key)) return fallback;
            long v = file.GetInteger(key);
            if (v < 0 || v >= n) throw new ModelFormatException(file.Source, $"token id {v} is outside the {n}-token vocabulary", key: key);
            return (int)v;
        }
        bool Flag(string key, bool fallback) => file.ContainsKey(key) ? file.GetBool(key) : fallback;

        return new TokenVocabulary
        {
            Pieces = tokens,
            Scores = scores,
            Types = types,
            BosId = Id("tokenizer.ggml.bos_token_id", Math.Min(1, n - 1)),
            EosId = Id("tokenizer.ggml.eos_token_id", Math.Min(2, n - 1)),
            UnkId = Id("tokenizer.ggml.unknown_token_id", 0),
            AddBos = Flag("tokenizer.ggml.add_bos_token", true),
            AddEos = Flag("tokenizer.ggml.add_eos_token", false),
        };
    }
}
