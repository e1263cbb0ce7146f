using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Elongate.Model;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// karpathy/llama2.c checkpoints (the "legacy" version-0 export read by run.c): a 7 × int32 header
/// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) followed by fp32 tensors grouped by kind
/// across layers. A negative vocab_size means the classifier is stored separately (untied). RoPE base is fixed at
/// 10,000 by run.c; the file still contains run.c's precomputed freq_cis tables, which we skip.
/// </summary>
public static class Llama2cCheckpoint
{
    private const int HeaderBytes = 7 * sizeof(int);

    /// <summary>Reads a checkpoint from disk.</summary>
    public static LlamaModel Read(string path)
    {
        byte[] bytes;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > Array.MaxLength)
                throw new ModelFormatException(path, $"file of {length} bytes is larger than a llama2.c fp32 checkpoint can be read into memory");
            bytes = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(path, $"cannot read: {e.Message}", inner: e);
        }
        return Read(bytes, path);
    }

    /// <summary>Reads a checkpoint from memory; <paramref name="source"/> names it in errors.</summary>
    public static LlamaModel Read(ReadOnlySpan<byte> file, string source = "<memory>")
    {
        if (file.Length < HeaderBytes)
            throw new ModelFormatException(source, $"file has {file.Length} bytes, fewer than the 28-byte llama2.c header", 0);
        Span<int> h = stackalloc int[7];
        for (int i = 0; i < 7; i++) h[i] = BinaryPrimitives.ReadInt32LittleEndian(file[(i * 4)..]);
        string[] names = ["dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len"];
        // Limits far above any real Llama but low enough that no size product below can overflow a long.
        long[] limits = [1 << 20, 1 << 22, 1 << 12, 1 << 16, 1 << 16, 1 << 24, 1 << 24];
        for (int i = 0; i < 7; i++)
        {
            // vocab_size may be negative (untied classifier); every magnitude must be positive and sane.
            long v = Math.Abs((long)h[i]);
            if (v == 0 || v > limits[i])
                throw new ModelFormatException(source, $"header field {names[i]} = {h[i]} is out of range", i * 4L, names[i]);
        }
        bool shared = h[5] > 0;
        var config = new LlamaConfig
        {
            HiddenSize = h[0], IntermediateSize = h[1], NumLayers = h[2], NumHeads = h[3], NumKvHeads = h[4],
            VocabSize = Math.Abs(h[5]), MaxPositionEmbeddings = h[6], TieWordEmbeddings = shared,
            RopeTheta = 10000f, RmsNormEps = 1e-5f,
        };
        config.Validate(source);

        long dim = config.HiddenSize, hid = config.IntermediateSize, layers = config.NumLayers, vocab = config.VocabSize;
        long qDim = config.NumHeads * (long)config.HeadDim, kv = config.KvDim, headSize = config.HeadDim;
        long freqCis = config.MaxPositionEmbeddings * headSize / 2;
        long[] counts =
        [
            vocab * dim, layers * dim, layers * qDim * dim, layers * kv * dim, layers * kv * dim, layers * dim * qDim,
            layers * dim, layers * hid * dim, layers * dim * hid, layers * hid * dim, dim, freqCis, freqCis,
            shared ? 0 : vocab * dim,
        ];
        long needed = HeaderBytes;
        foreach (var c in counts) needed += c * sizeof(float);
        if (needed > file.Length)
            throw new ModelFormatException(source, $"header implies {needed} bytes of weights but the file has {file.Length} (truncated, or not a llama2.c checkpoint)", file.Length);
        if (needed != file.Length)
            throw new ModelFormatException(source, $"file has {file.Length - needed} bytes after the last tensor the header implies ({needed} bytes); not a version-0 llama2.c checkpoint", needed);

        var floats = MemoryMarshal.Cast<byte, float>(file[HeaderBytes..]);
        // run.c's order: the embedding, then each per-layer role for all layers (the schema's layer-role order), the final
        // norm, the two freq_cis tables (skipped: RoPE is recomputed from the base) and, when not shared, the head.
        var offsets = new Dictionary<(TensorRole, int), long> { [(TensorRole.TokenEmbedding, -1)] = 0 };
        long at = vocab * dim;
        foreach (var role in LlamaTensorSchema.LayerRoles)
            for (int l = 0; l < layers; l++)
            {
                offsets[(role, l)] = at;
                at += LlamaTensorSchema.Spec(config, role, l).ElementCount;
            }
        offsets[(TensorRole.FinalNorm, -1)] = at;
        at += dim + 2 * freqCis;
        if (!shared) offsets[(TensorRole.Output, -1)] = at;
        var arrays = new Dictionary<(TensorRole, int), float[]>();
        foreach (var spec in LlamaTensorSchema.Enumerate(config))
            arrays[(spec.Role, spec.Layer)] = floats.Slice((int)offsets[(spec.Role, spec.Layer)], (int)spec.ElementCount).ToArray();
        var weights = LlamaWeights.FromFloats(config, spec => arrays[(spec.Role, spec.Layer)]);
        weights.Validate(config, source);
        return new LlamaModel { Config = config, Weights = weights, Source = source };
    }

    /// <summary>
    /// Writes a version-0 llama2.c checkpoint that run.c reads. run.c knows only RoPE base 10,000 and full-width
    /// rotation, so other settings are refused rather than silently lost.
    /// </summary>
    public static void Write(LlamaModel model, string path)
    {
        var c = model.Config;
        if (c.RopeTheta != 10000f || c.RotaryDim != c.HeadDim)
            throw new ModelFormatException(path, $"llama2.c checkpoints cannot carry RoPE base {c.RopeTheta} or partial rotary dim {c.RotaryDim}; export to GGUF or safetensors instead", key: "rope_theta");
        var w = model.Weights;
        AtomicFile.Write(path, stream =>
        {
            using var bw = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true);
            int vocab = w.Output is null ? c.VocabSize : -c.VocabSize;
            foreach (var v in new[] { c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, vocab, c.MaxPositionEmbeddings })
                bw.Write(v);
            void Put(Weight a) => bw.Write(MemoryMarshal.AsBytes((a.ManagedFloats ?? a.Dequantize()).AsSpan()));
            Put(w.TokenEmbedding);
            foreach (var role in LlamaTensorSchema.LayerRoles)
                foreach (var l in w.Layers) Put(l[role]);
            Put(w.FinalNorm);
            // run.c's freq_cis tables, written as it expects (cos and sin of pos·θ_i, base 10,000).
            int half = c.HeadDim / 2;
            for (int table = 0; table < 2; table++)
                for (int pos = 0; pos < c.MaxPositionEmbeddings; pos++)
                    for (int i = 0; i < half; i++)
                    {
                        double angle = pos * Math.Pow(10000.0, -2.0 * i / c.HeadDim);
                        bw.Write((float)(table == 0 ? Math.Cos(angle) : Math.Sin(angle)));
                    }
            if (w.Output is not null) Put(w.Output);
        });
    }
}
