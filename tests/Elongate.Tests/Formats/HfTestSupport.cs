using static Elongate.Tests.Model.TestWeights;
using Elongate.Tests.Model;
using System.Buffers.Binary;
using System.Text;
using Elongate.Model;

namespace Elongate.Tests.Formats;

/// <summary>Small random Llama models, hand-built safetensors images and temp folders for the HF format tests.</summary>
internal static class HfTestSupport
{
    /// <summary>A GQA config small enough that a whole round trip takes milliseconds: 4 query heads share 2 KV heads.</summary>
    public static LlamaConfig SmallConfig(bool tied, int? rotaryDim = null, int hiddenSize = 16) => new()
    {
        HiddenSize = hiddenSize,
        IntermediateSize = 40,
        NumLayers = 2,
        NumHeads = 4,
        NumKvHeads = 2,
        VocabSize = 37,
        MaxPositionEmbeddings = 64,
        RmsNormEps = 1e-5f,
        RopeTheta = 10000f,
        RopeDimensionCount = rotaryDim,
        TieWordEmbeddings = tied,
        BosTokenId = 1,
        EosTokenId = 2,
    };

    public static LlamaModel RandomModel(LlamaConfig c, int seed)
    {
        var rng = new Random(seed);
        float[] R(long n)
        {
            var a = new float[n];
            // Mix magnitudes (including values below F16's normal range) so conversions are exercised across exponents.
            for (long i = 0; i < n; i++) a[i] = (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-6, 1)));
            return a;
        }
        int dim = c.HiddenSize, hid = c.IntermediateSize, q = c.NumHeads * c.HeadDim, kv = c.KvDim;
        var layers = new LayerWeights[c.NumLayers];
        for (int l = 0; l < layers.Length; l++)
        {
            layers[l] = new LayerWeights
            {
                AttnNorm = W(R(dim)), Wq = W(R((long)q * dim), q, dim), Wk = W(R((long)kv * dim), kv, dim), Wv = W(R((long)kv * dim), kv, dim),
                Wo = W(R((long)dim * q), dim, q), FfnNorm = W(R(dim)), WGate = W(R((long)hid * dim), hid, dim),
                WUp = W(R((long)hid * dim), hid, dim), WDown = W(R((long)dim * hid), dim, hid),
            };
        }
        var weights = new LlamaWeights
        {
            TokenEmbedding = W(R((long)c.VocabSize * dim), c.VocabSize, dim),
            Layers = layers,
            FinalNorm = W(R(dim)),
            Output = c.TieWordEmbeddings ? null : W(R((long)c.VocabSize * dim), c.VocabSize, dim),
        };
        return new LlamaModel { Config = c, Weights = weights };
    }

    /// <summary>Every weight array of a model with the name our own tests use for it, in a fixed order.</summary>
    public static IEnumerable<(string Name, float[]? Data)> AllTensors(LlamaWeights w)
    {
        yield return ("embed", w.TokenEmbedding.Values());
        yield return ("norm", w.FinalNorm.Values());
        yield return ("output", w.Output?.Values());
        for (int l = 0; l < w.Layers.Length; l++)
        {
            var x = w.Layers[l];
            yield return ($"{l}.attn_norm", x.AttnNorm.Values());
            yield return ($"{l}.wq", x.Wq.Values());
            yield return ($"{l}.wk", x.Wk.Values());
            yield return ($"{l}.wv", x.Wv.Values());
            yield return ($"{l}.wo", x.Wo.Values());
            yield return ($"{l}.ffn_norm", x.FfnNorm.Values());
            yield return ($"{l}.gate", x.WGate.Values());
            yield return ($"{l}.up", x.WUp.Values());
            yield return ($"{l}.down", x.WDown.Values());
        }
    }

    /// <summary>A safetensors image built straight from the specification: u64 LE header length, header bytes, data.</summary>
    public static byte[] Image(string headerJson, params byte[][] data) => Image(Encoding.UTF8.GetBytes(headerJson), data);

    public static byte[] Image(byte[] header, params byte[][] data)
    {
        var ms = new MemoryStream();
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
        ms.Write(n);
        ms.Write(header);
        foreach (var d in data) ms.Write(d);
        return ms.ToArray();
    }

    public static byte[] F32Bytes(params float[] values)
    {
        var b = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(b.AsSpan(4 * i), values[i]);
        return b;
    }
}

/// <summary>A fresh folder under the system temp directory, deleted on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "elongate-hf-" + Guid.NewGuid().ToString("N"));

    public TempDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string[] Entries() => Directory.EnumerateFileSystemEntries(Path).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
