using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// The GGUF tokenizer.* metadata of a vocabulary, as llama.cpp's converter writes it: the reverse of
/// <see cref="GgufVocabularyReader"/>, for model files and for tokenizer-only files (0 tensors) like llama.cpp's
/// models/ggml-vocab-*.gguf.
/// </summary>
public static class GgufVocabularyWriter
{
    /// <summary>The key/value pairs; ids that are -1 (absent) are left out, as llama.cpp's reader then treats them.</summary>
    public static List<KeyValuePair<string, object>> Metadata(TokenVocabulary vocab)
    {
        bool bpe = vocab.Kind == VocabularyKind.BytePairEncoding;
        var meta = new List<KeyValuePair<string, object>>
        {
            new("tokenizer.ggml.model", bpe ? GgufVocabularyReader.BytePairModel : GgufVocabularyReader.SentencePieceModel),
            new("tokenizer.ggml.pre", bpe ? vocab.PreTokenizer ?? "default" : "default"),
            new("tokenizer.ggml.tokens", (string[])vocab.Pieces.Clone()),
        };
        // Byte-level BPE ranks by merges; llama.cpp's converter writes no scores for it.
        if (!bpe) meta.Add(new("tokenizer.ggml.scores", (float[])vocab.Scores.Clone()));
        meta.Add(new("tokenizer.ggml.token_type", Array.ConvertAll(vocab.Types, t => (int)t)));
        if (bpe) meta.Add(new("tokenizer.ggml.merges", (string[])(vocab.Merges ?? []).Clone()));
        void Id(string key, int id)
        {
            if (id >= 0) meta.Add(new(key, (uint)id));
        }
        Id("tokenizer.ggml.bos_token_id", vocab.BosId);
        Id("tokenizer.ggml.eos_token_id", vocab.EosId);
        Id("tokenizer.ggml.unknown_token_id", vocab.UnkId);
        Id("tokenizer.ggml.eot_token_id", vocab.EotId);
        Id("tokenizer.ggml.eom_token_id", vocab.EomId);
        Id("tokenizer.ggml.padding_token_id", vocab.PadId);
        meta.Add(new("tokenizer.ggml.add_bos_token", vocab.AddBos));
        meta.Add(new("tokenizer.ggml.add_eos_token", vocab.AddEos));
        if (vocab.ChatTemplate is not null) meta.Add(new("tokenizer.chat_template", vocab.ChatTemplate));
        return meta;
    }

    /// <summary>Writes a tokenizer-only GGUF (no tensors) holding <paramref name="vocab"/>; atomic (temporary file, then rename).</summary>
    public static void Save(string path, TokenVocabulary vocab, string architecture = "llama", string? name = null)
    {
        var w = new GgufWriter();
        w.Add("general.architecture", architecture);
        w.Add("general.name", name ?? Path.GetFileNameWithoutExtension(path));
        foreach (var (k, v) in Metadata(vocab)) w.Add(k, v);
        w.Save(path);
    }
}
