using Elongate.Model;

namespace Elongate.Formats;

/// <summary>
/// Writes a <see cref="LlamaModel"/> as a Hugging Face checkpoint folder: config.json and model.safetensors
/// (or shards plus an index), with q_proj/k_proj rows permuted to HF's rotate-half RoPE layout and
/// __metadata__ {"format": "pt"} as save_pretrained writes it. All files are staged and renamed together.
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
    public static IReadOnlyList<string> Write(LlamaModel model, string directory, SafetensorsDtype dtype = SafetensorsDtype.F32,
        long? maxShardBytes = null, HfConfig? config = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!dtype.IsFloatConvertible()) throw new ArgumentException($"only F32, F16 and BF16 can be written, not {dtype}", nameof(dtype));
        var c = model.Config with { TieWordEmbeddings = model.Weights.Output is null };
        c.Validate(model.Source);
        model.Weights.Validate(c, model.Source);
        var hf = (config ?? HfConfig.FromLlamaConfig(c)) with { Model = c, TorchDtype = dtype.TorchName() };

        var w = model.Weights;
        int dim = c.HiddenSize, hid = c.IntermediateSize, qDim = c.NumHeads * c.HeadDim, kvDim = c.KvDim;
        var tensors = new List<SafetensorsTensor>();
        void Add(string name, float[] data, params long[] shape) => tensors.Add(new SafetensorsTensor(name, shape, data, dtype));
        Add(HfTensorNames.TokenEmbedding, w.TokenEmbedding, c.VocabSize, dim);
        for (int l = 0; l < c.NumLayers; l++)
        {
            var layer = w.Layers[l];
            Add(HfTensorNames.AttnNorm(l), layer.AttnNorm, dim);
            Add(HfTensorNames.Wq(l), HfRopePermutation.Permute(layer.Wq, c.NumHeads, c.HeadDim, dim, c.RotaryDim), qDim, dim);
            Add(HfTensorNames.Wk(l), HfRopePermutation.Permute(layer.Wk, c.NumKvHeads, c.HeadDim, dim, c.RotaryDim), kvDim, dim);
            Add(HfTensorNames.Wv(l), layer.Wv, kvDim, dim);
            Add(HfTensorNames.Wo(l), layer.Wo, dim, qDim);
            Add(HfTensorNames.FfnNorm(l), layer.FfnNorm, dim);
            Add(HfTensorNames.WGate(l), layer.WGate, hid, dim);
            Add(HfTensorNames.WUp(l), layer.WUp, hid, dim);
            Add(HfTensorNames.WDown(l), layer.WDown, dim, hid);
        }
        Add(HfTensorNames.FinalNorm, w.FinalNorm, dim);
        if (w.Output is not null) Add(HfTensorNames.Output, w.Output, c.VocabSize, dim);

        Directory.CreateDirectory(directory);
        using var staged = new StagedFiles();
        var written = SafetensorsWriter.StageSharded(staged, directory, tensors, maxShardBytes ?? long.MaxValue,
            SafetensorsWriter.PyTorchMetadata, "model");
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, "config.json")), hf.ToJsonBytes());
        written.Add("config.json");
        staged.Commit();
        SafetensorsWriter.RemoveStale(directory, "model", written);
        return written;
    }
}
