using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// Writes a <see cref="LlamaModel"/> as a Hugging Face checkpoint folder: config.json and model.safetensors
/// (or shards plus an index), with q_proj/k_proj rows permuted to HF's rotate-half RoPE layout and
/// __metadata__ {"format": "pt"} as save_pretrained writes it, and the vocabulary as tokenizer.json plus
/// tokenizer_config.json. All files are staged and renamed together.
/// </summary>
public static class HfModelWriter
{
    /// <summary>
    /// Writes <paramref name="model"/> into <paramref name="directory"/> (created if needed) and returns the file names written.
    /// A tied model (Output null) is saved without lm_head.weight and with tie_word_embeddings true.
    /// </summary>
    /// <param name="model">The model; its config and weights are validated first, so a bad model writes nothing.</param>
    /// <param name="directory">Output folder; existing model files there are replaced.</param>
    /// <param name="dtype">On-disk type: F32 (exact), F16 or BF16 (rounded to nearest even).</param>
    /// <param name="maxShardBytes">Shard when the tensors exceed this many bytes; null writes one file.</param>
    /// <param name="config">Config extras to keep (rope_scaling, unknown keys); its <see cref="HfConfig.Model"/> is replaced by the model's.</param>
    /// <param name="vocabulary">Written as tokenizer.json and tokenizer_config.json (<see cref="HfTokenizerWriter"/>); defaults
    /// to the model's own. Left out when there is none, or when a SentencePiece vocabulary cannot be expressed exactly
    /// as tokenizer.json (<see cref="HfTokenizerWriter.CanWrite"/>); the returned names say whether it was written.</param>
    public static IReadOnlyList<string> Write(LlamaModel model, string directory, SafetensorsDtype dtype = SafetensorsDtype.F32,
        long? maxShardBytes = null, HfConfig? config = null, TokenVocabulary? vocabulary = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!dtype.IsFloatConvertible()) throw new ArgumentException($"only F32, F16 and BF16 can be written, not {dtype}", nameof(dtype));
        var c = model.Config with { TieWordEmbeddings = model.Weights.Output is null };
        c.Validate(model.Source);
        model.Weights.Validate(c, model.Source);
        var hf = (config ?? HfConfig.FromLlamaConfig(c)) with { Model = c, TorchDtype = dtype.TorchName() };
        vocabulary ??= model.Vocabulary;
        if (vocabulary is not null && vocabulary.Count != c.VocabSize)
            throw new ArgumentException($"vocabulary has {vocabulary.Count} tokens, the model {c.VocabSize}", nameof(vocabulary));

        int dim = c.HiddenSize;
        var tensors = new List<SafetensorsTensor>();
        foreach (var (spec, weight) in model.Weights.Tensors(c))
        {
            var values = weight.ManagedFloats ?? weight.Dequantize();
            // Back to Hugging Face's rotate-half layout for q/k rows.
            values = spec.Role switch
            {
                TensorRole.Wq => HfRopePermutation.Permute(values, c.NumHeads, c.HeadDim, dim, c.RotaryDim),
                TensorRole.Wk => HfRopePermutation.Permute(values, c.NumKvHeads, c.HeadDim, dim, c.RotaryDim),
                _ => values,
            };
            tensors.Add(new SafetensorsTensor(spec.HfName, spec.Shape, values, dtype));
        }

        Directory.CreateDirectory(directory);
        using var staged = new StagedFiles();
        var written = SafetensorsWriter.StageSharded(staged, directory, tensors, maxShardBytes ?? long.MaxValue,
            SafetensorsWriter.PyTorchMetadata, "model");
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, "config.json")), hf.ToJsonBytes());
        written.Add("config.json");
        if (vocabulary is not null && HfTokenizerWriter.CanWrite(vocabulary, out _))
            written.AddRange(HfTokenizerWriter.Stage(staged, directory, vocabulary));
        staged.Commit();
        SafetensorsWriter.RemoveStale(directory, "model", written);
        return written;
    }
}
