using Elongate.Model;
using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// Loads a Hugging Face Llama checkpoint (config.json plus model.safetensors or a sharded
/// model.safetensors.index.json) into fp32 <see cref="LlamaWeights"/>. Every tensor's shape is checked against
/// the config before it is read, q_proj/k_proj rows are converted from HF's rotate-half layout back to the
/// adjacent-pair layout the kernels use, and tensors the model would not use are an error rather than ignored.
/// The folder's tokenizer (tokenizer.model or tokenizer.json, with tokenizer_config.json) becomes the model's vocabulary.
/// </summary>
public static class HfModelLoader
{
    /// <summary>Loads from a folder, or from a path to its config.json, model.safetensors or index.</summary>
    public static LlamaModel Load(string path) => Load(path, out _);

    /// <summary>As <see cref="Load(string)"/>, also returning the parsed config.json (rope_scaling and other extras).</summary>
    public static LlamaModel Load(string path, out HfConfig hfConfig)
    {
        var (configPath, weightsPath) = Resolve(path);
        hfConfig = HfConfig.Load(configPath);
        var config = hfConfig.Model;
        using var ckpt = SafetensorsCheckpoint.Open(weightsPath);
        string source = weightsPath;

        int dim = config.HiddenSize;
        var used = new HashSet<string>(StringComparer.Ordinal);
        float[] Read(string name, params long[] shape)
        {
            var info = ckpt.GetInfo(name);
            if (!info.Shape.AsSpan().SequenceEqual(shape))
                throw new ModelFormatException(ckpt.ShardOf(name).Source,
                    $"shape {info.ShapeText} disagrees with config.json, which implies {SafetensorsTensorInfo.FormatShape(shape)}", info.HeaderOffset, name);
            used.Add(name);
            return ckpt.ReadFloat32(name);
        }

        // transformers ties the head to the embedding and ignores a stored lm_head; so do we.
        if (config.TieWordEmbeddings && ckpt.Contains(HfTensorNames.Output)) used.Add(HfTensorNames.Output);
        if (!config.TieWordEmbeddings && !ckpt.Contains(HfTensorNames.Output))
            throw new ModelFormatException(source, "tensor is missing and config.json's tie_word_embeddings is false", key: HfTensorNames.Output);
        var weights = LlamaWeights.FromFloats(config, spec =>
        {
            var values = Read(spec.HfName, spec.Shape);
            // Hugging Face stores q/k rows in the rotate-half layout; the engine uses Meta's adjacent pairs.
            return spec.Role switch
            {
                TensorRole.Wq => HfRopePermutation.Unpermute(values, config.NumHeads, config.HeadDim, dim, config.RotaryDim),
                TensorRole.Wk => HfRopePermutation.Unpermute(values, config.NumKvHeads, config.HeadDim, dim, config.RotaryDim),
                _ => values,
            };
        });

        foreach (var name in ckpt.Names)
        {
            if (used.Contains(name) || HfTensorNames.IsIgnorable(name)) continue;
            var shard = ckpt.ShardOf(name);
            throw new ModelFormatException(shard.Source, "unexpected tensor: a Llama model with this config has no such weight", ckpt.GetInfo(name).HeaderOffset, name);
        }

        weights.Validate(config, source);
        var folder = Path.GetDirectoryName(configPath) ?? path;
        return new LlamaModel { Config = config, Weights = weights, Source = folder, Vocabulary = ReadVocabulary(folder, configPath, config.VocabSize) };
    }

    /// <summary>
    /// The folder's tokenizer (tokenizer.model, else tokenizer.json, with tokenizer_config.json), padded to the model's
    /// vocab_size with "[PAD{id}]" Unused pieces as llama.cpp's converter pads embeddings rounded up past the tokenizer;
    /// null when the folder has no tokenizer. A tokenizer that cannot be read is an error rather than silently dropped,
    /// so a conversion never writes a GGUF without the vocabulary the folder has.
    /// </summary>
    private static TokenVocabulary? ReadVocabulary(string folder, string configPath, int vocabSize)
    {
        var vocab = TokenizerLoader.ReadFolder(folder);
        if (vocab is null || vocab.Count == vocabSize) return vocab;
        if (vocab.Count > vocabSize)
            throw new ModelFormatException(configPath, $"vocab_size {vocabSize} is smaller than the tokenizer's {vocab.Count} tokens", key: "vocab_size");
        int n = vocab.Count;
        var pieces = new string[vocabSize];
        var scores = new float[vocabSize];
        var types = new TokenType[vocabSize];
        Array.Copy(vocab.Pieces, pieces, n);
        Array.Copy(vocab.Scores, scores, n);
        Array.Copy(vocab.Types, types, n);
        for (int i = n; i < vocabSize; i++)
        {
            pieces[i] = $"[PAD{i}]";
            types[i] = TokenType.Unused;
        }
        TokenStrip[]? strip = null;
        if (vocab.Strip is not null)
        {
            strip = new TokenStrip[vocabSize];
            Array.Copy(vocab.Strip, strip, Math.Min(n, vocab.Strip.Length));
        }
        return vocab with { Pieces = pieces, Scores = scores, Types = types, Strip = strip };
    }

    /// <summary>Finds config.json and the weights (single file preferred, as transformers does) from any of the accepted paths.</summary>
    public static (string ConfigPath, string WeightsPath) Resolve(string path)
    {
        string folder;
        string? weights = null;
        if (Directory.Exists(path))
        {
            folder = path;
        }
        else if (File.Exists(path))
        {
            folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            if (!Path.GetFileName(path).Equals("config.json", StringComparison.Ordinal)) weights = path;
        }
        else
        {
            throw new ModelFormatException(path, "no such file or folder");
        }
        string config = Path.Combine(folder, "config.json");
        if (!File.Exists(config)) throw new ModelFormatException(config, "config.json is missing beside the weights");
        if (weights is null)
        {
            string single = Path.Combine(folder, "model.safetensors"), index = Path.Combine(folder, SafetensorsIndex.DefaultFileName);
            weights = File.Exists(single) ? single
                : File.Exists(index) ? index
                : throw new ModelFormatException(folder, $"neither model.safetensors nor {SafetensorsIndex.DefaultFileName} is present");
        }
        return (config, weights);
    }
}
