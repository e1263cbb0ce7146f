using Elongate.Tests.Model;
using Elongate.Formats;
using Elongate.Kernels;
using Elongate.Model;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>Writer → reader round trips of raw GGUF content and of whole models.</summary>
public class GgufRoundTripTests
{
    internal static void AssertSameContent(GgufFile a, GgufFile b)
    {
        Assert.Equal(a.Metadata.Select(e => (e.Key, e.Type)), b.Metadata.Select(e => (e.Key, e.Type)));
        for (int i = 0; i < a.Metadata.Count; i++) AssertSameValue(a.Metadata[i].Value, b.Metadata[i].Value, a.Metadata[i].Key);
        Assert.Equal(a.Tensors.Select(t => (t.Name, t.Type, t.ShapeString)), b.Tensors.Select(t => (t.Name, t.Type, t.ShapeString)));
        foreach (var t in a.Tensors)
            Assert.True(a.GetTensorData(t).SequenceEqual(b.GetTensorData(b.GetTensor(t.Name))), t.Name);
    }

    private static void AssertSameValue(object x, object y, string key)
    {
        Assert.Equal(x.GetType(), y.GetType());
        if (x is GgufArray ax)
        {
            var ay = (GgufArray)y;
            Assert.Equal(ax.ElementType, ay.ElementType);
            Assert.Equal(ax.Count, ay.Count);
            for (int i = 0; i < ax.Count; i++) AssertSameValue(ax.Items.GetValue(i)!, ay.Items.GetValue(i)!, $"{key}[{i}]");
        }
        else if (x is float fx) Assert.Equal(BitConverter.SingleToUInt32Bits(fx), BitConverter.SingleToUInt32Bits((float)y));
        else if (x is double dx) Assert.Equal(BitConverter.DoubleToUInt64Bits(dx), BitConverter.DoubleToUInt64Bits((double)y));
        else Assert.Equal(x, y);
    }

    /// <summary>One key of every value type, extreme values, nested arrays and every tensor type.</summary>
    internal static GgufWriter EveryTypeWriter(uint alignment = 32)
    {
        var w = new GgufWriter(alignment);
        w.Add("t.u8", (byte)255).Add("t.i8", (sbyte)-128).Add("t.u16", (ushort)65535).Add("t.i16", (short)-32768)
         .Add("t.u32", uint.MaxValue).Add("t.i32", int.MinValue).Add("t.f32", -1.5e-30f).Add("t.nan", float.NaN)
         .Add("t.bool.true", true).Add("t.bool.false", false).Add("t.str", "héllo ▁ 世界 \U0001F600").Add("t.empty", "")
         .Add("t.u64", ulong.MaxValue).Add("t.i64", long.MinValue).Add("t.f64", Math.PI)
         .Add("a.u8", new byte[] { 0, 1, 255 }).Add("a.i8", new sbyte[] { -1, 127 }).Add("a.u16", new ushort[] { 1, 65535 })
         .Add("a.i16", new short[] { -2, 3 }).Add("a.u32", new uint[] { 7 }).Add("a.i32", new[] { -1, 0, 1 })
         .Add("a.f32", new[] { 1.5f, float.NegativeInfinity }).Add("a.bool", new[] { true, false, true })
         .Add("a.str", new[] { "a", "", "▁b" }).Add("a.u64", new ulong[] { ulong.MaxValue }).Add("a.i64", new long[] { long.MinValue, 5 })
         .Add("a.f64", new[] { -0.0, 1e300 }).Add("a.empty", Array.Empty<float>())
         .Add("a.nested", new GgufArray(GgufValueType.Array, new[]
         {
             GgufArray.From(new[] { 1, 2, 3 }),
             GgufArray.From(new[] { "x", "y" }),
             new GgufArray(GgufValueType.Array, new[] { GgufArray.From(new[] { 0.25 }) }),
         }));
        var rng = new Random(3);
        byte[] RandomBytes(int n) { var b = new byte[n]; rng.NextBytes(b); return b; }
        // Random bytes are valid blocks for every type (any bit pattern decodes), so raw tensors of each type round-trip.
        foreach (var t in Enum.GetValues<GgmlType>())
        {
            long ne0 = GgmlTypes.BlockSize(t) * 2;
            w.AddTensor($"raw.{t}", [ne0, 3], t, RandomBytes((int)GgmlTypes.ByteCount(t, ne0 * 3)));
        }
        var f = new float[64 * 5];
        for (int i = 0; i < f.Length; i++) f[i] = (float)(rng.NextDouble() - 0.5);
        w.AddTensor("enc.f32", [64, 5], f, GgmlType.F32);
        w.AddTensor("enc.f16", [64, 5], f, GgmlType.F16);
        w.AddTensor("enc.bf16", [64, 5], f, GgmlType.BF16);
        w.AddTensor("enc.q8_0", [64, 5], f, GgmlType.Q8_0);
        w.AddTensor("enc.4d", [32, 1, 2, 3], f.AsMemory(0, 192), GgmlType.F32);
        return w;
    }

    [Theory]
    [InlineData(32u)]
    [InlineData(64u)]
    [InlineData(1u)]
    public void EveryValueTypeAndTensorTypeRoundTrips(uint alignment)
    {
        var w = EveryTypeWriter(alignment);
        var bytes = w.ToArray();
        using var f = GgufFile.FromBytes(bytes);
        Assert.Equal(3u, f.Version);
        Assert.Equal(alignment, f.Alignment);
        Assert.Equal(alignment != 32, f.ContainsKey("general.alignment"));
        Assert.Equal(0, f.DataOffset % alignment);
        foreach (var t in f.Tensors) Assert.Equal(0, t.FileOffset % alignment);

        Assert.Equal((byte)255, f.GetUInt8("t.u8"));
        Assert.Equal((sbyte)-128, f.GetInt8("t.i8"));
        Assert.Equal((ushort)65535, f.GetUInt16("t.u16"));
        Assert.Equal((short)-32768, f.GetInt16("t.i16"));
        Assert.Equal(uint.MaxValue, f.GetUInt32("t.u32"));
        Assert.Equal(int.MinValue, f.GetInt32("t.i32"));
        Assert.Equal(-1.5e-30f, f.GetFloat32("t.f32"));
        Assert.True(float.IsNaN(f.GetFloat32("t.nan")));
        Assert.True(f.GetBool("t.bool.true"));
        Assert.False(f.GetBool("t.bool.false"));
        Assert.Equal("héllo ▁ 世界 \U0001F600", f.GetString("t.str"));
        Assert.Equal("", f.GetString("t.empty"));
        Assert.Equal(ulong.MaxValue, f.GetUInt64("t.u64"));
        Assert.Equal(long.MinValue, f.GetInt64("t.i64"));
        Assert.Equal(Math.PI, f.GetFloat64("t.f64"));
        Assert.Equal(["a", "", "▁b"], f.GetArray<string>("a.str", GgufValueType.String));
        var nested = f.GetArray("a.nested").As<GgufArray>();
        Assert.Equal([1, 2, 3], nested[0].As<int>());
        Assert.Equal(["x", "y"], nested[1].As<string>());
        Assert.Equal([0.25], nested[2].As<GgufArray>()[0].As<double>());
        Assert.Empty(f.GetArray<float>("a.empty", GgufValueType.Float32));

        // Writing the parsed content again gives the identical image (every key, type and tensor byte preserved).
        var w2 = new GgufWriter(f.Alignment);
        foreach (var e in f.Metadata) if (e.Key != "general.alignment") w2.Add(e.Key, e.Value);
        foreach (var t in f.Tensors) w2.AddTensor(t.Name, t.Dimensions, t.Type, f.GetTensorData(t).ToArray());
        Assert.Equal(bytes, w2.ToArray());
    }

    [Fact]
    public void EncodedTensorsDequantizeWithinTheirFormatsPrecision()
    {
        using var f = GgufFile.FromBytes(EveryTypeWriter().ToArray());
        var exact = f.DequantizeTensor(f.GetTensor("enc.f32"));
        Assert.Equal(exact, f.DequantizeTensor(f.GetTensor("enc.4d")).Concat(exact.Skip(192)).ToArray());
        var h = f.DequantizeTensor(f.GetTensor("enc.f16"));
        var bf = f.DequantizeTensor(f.GetTensor("enc.bf16"));
        var q = f.DequantizeTensor(f.GetTensor("enc.q8_0"));
        for (int i = 0; i < exact.Length; i++)
        {
            float x = exact[i];
            Assert.True(Math.Abs(h[i] - x) <= Math.Abs(x) * MathF.Pow(2, -11) + MathF.Pow(2, -25), $"f16 {i}");   // half: 11-bit significand
            Assert.True(Math.Abs(bf[i] - x) <= Math.Abs(x) * MathF.Pow(2, -8), $"bf16 {i}");                       // bf16: 8-bit significand
            Assert.True(Math.Abs(q[i] - x) <= 0.5f / 127 * 0.5f * 1.13f, $"q8_0 {i}");                            // |x| < 0.5: d/2·(1+fp16 slack)
        }
    }

    [Fact]
    public void SaveWritesAFileThatOpensMemoryMapped()
    {
        var dir = Directory.CreateTempSubdirectory("gguf-test");
        try
        {
            var path = Path.Combine(dir.FullName, "every.gguf");
            var w = EveryTypeWriter();
            w.Save(path);
            using var f = GgufFile.Open(path);
            using var g = GgufFile.FromBytes(w.ToArray());
            AssertSameContent(g, f);
            Assert.Equal([Path.GetFileName(path)], dir.GetFiles().Select(x => x.Name));
        }
        finally { dir.Delete(true); }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.F16)]
    public void TensorsLargerThanOneEncodingChunkAreWrittenWhole(GgmlType type)
    {
        // The writer encodes fp32 sources in pieces of 2^20 elements; a tensor of 2^20 + 64 elements spans two.
        var x = new float[64 * 16385];
        var rng = new Random(9);
        for (int i = 0; i < x.Length; i++) x[i] = (float)rng.NextDouble() - 0.5f;
        using var f = GgufFile.FromBytes(new GgufWriter().AddTensor("t", [64, 16385], x, type).ToArray());
        Assert.True(f.GetTensorData(f.GetTensor("t")).SequenceEqual(GgmlQuants.Quantize(type, x)));
    }

    [Fact]
    public void DequantizationSpanningSeveralParallelChunksIsExact()
    {
        // DequantizeTensor converts 16 MiB of source per parallel chunk; 1024 × 4097 F32 is just over one chunk.
        var x = new float[1024 * 4097];
        for (int i = 0; i < x.Length; i++) x[i] = i * 0.25f - 7f;
        using var f = GgufFile.FromBytes(new GgufWriter().AddTensor("t", [1024, 4097], x, GgmlType.F32).ToArray());
        Assert.True(f.DequantizeTensor(f.GetTensor("t")).AsSpan().SequenceEqual(x));
    }

    [Fact]
    public void TensorBeyondTwoGigabytesIsReadThroughTheMapping()
    {
        // A sparse 2.5 GiB file (no real disk use): tensor "b" is moved past 2^31, where int offsets would break.
        var w = new GgufWriter();
        w.AddTensor("a", [8], new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, GgmlType.F32);
        w.AddTensor("b", [8], new float[] { 9, 9, 9, 9, 9, 9, 9, 9 }, GgmlType.F32);
        var bytes = w.ToArray();
        long infoB, dataOffset;
        using (var g = GgufFile.FromBytes(bytes)) { infoB = g.GetTensor("b").HeaderOffset; dataOffset = g.DataOffset; }
        const long far = (1L << 31) + (1L << 29);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)(infoB + 8 + 1 + 4 + 8 + 4)), far);
        var path = Path.GetTempFileName();
        try
        {
            using (var fs = new FileStream(path, FileMode.Create))
            {
                fs.Write(bytes);
                fs.SetLength(dataOffset + far + 32);
                fs.Position = dataOffset + far;
                fs.Write(GgmlQuants.Quantize(GgmlType.F32, [10, 20, 30, 40, 50, 60, 70, 80]));
            }
            using var f = GgufFile.Open(path);
            Assert.Equal(dataOffset + far + 32, f.Length);
            var b = f.GetTensor("b");
            Assert.True(b.FileOffset > int.MaxValue);
            Assert.Equal([10f, 20, 30, 40, 50, 60, 70, 80], f.DequantizeTensor(b));
            Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8], f.DequantizeTensor(f.GetTensor("a")));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void WriterFailureLeavesNoPartialFileAndKeepsTheOldOne()
    {
        var dir = Directory.CreateTempSubdirectory("gguf-test");
        try
        {
            var path = Path.Combine(dir.FullName, "model.gguf");
            File.WriteAllText(path, "previous contents");
            // A string array holding null fails while its bytes are being written, after the header has started.
            var w = EveryTypeWriter().Add("z.broken", new GgufArray(GgufValueType.String, new string[] { "ok", null! }));
            Assert.ThrowsAny<ArgumentException>(() => w.Save(path));
            Assert.Equal("previous contents", File.ReadAllText(path));
            Assert.Equal(["model.gguf"], dir.GetFiles().Select(x => x.Name));
            var fresh = Path.Combine(dir.FullName, "fresh.gguf");
            Assert.ThrowsAny<ArgumentException>(() => w.Save(fresh));
            Assert.False(File.Exists(fresh));
            Assert.Equal(["model.gguf"], dir.GetFiles().Select(x => x.Name));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void ModelF32RoundTripIsBitIdentical()
    {
        var m = GgufTestModels.Random(dim: 16, hidden: 24, layers: 2, heads: 4, kvHeads: 2, vocab: 20, ropeTheta: 500000f);
        var bytes = GgufModelWriter.Build(m, GgufOutputType.F32, name: "tiny").ToArray();
        using var f = GgufFile.FromBytes(bytes);
        Assert.All(f.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.Equal(0u, f.GetUInt32("general.file_type"));
        var back = GgufModelLoader.Load(f);
        // The writer states rope.dimension_count explicitly (as convert_hf_to_gguf does), so it comes back set.
        Assert.Equal(m.Config with { RopeDimensionCount = null }, back.Config); // full-head rotation reads back as null (canonical)
        AssertWeights(m.Weights, back.Weights, (x, y, _) => Assert.Equal(BitConverter.SingleToUInt32Bits(x), BitConverter.SingleToUInt32Bits(y)));
        Assert.Equal(m.Vocabulary!.Pieces, back.Vocabulary!.Pieces);
        Assert.Equal(m.Vocabulary.Scores, back.Vocabulary.Scores);
        Assert.Equal(m.Vocabulary.Types, back.Vocabulary.Types);
        Assert.Equal(m.Vocabulary with { Pieces = back.Vocabulary.Pieces, Scores = back.Vocabulary.Scores, Types = back.Vocabulary.Types }, back.Vocabulary);
    }

    [Fact]
    public void ModelF16AndBF16RoundTripsStayWithinHalfPrecision()
    {
        var m = GgufTestModels.Random(dim: 16, hidden: 24, layers: 1, heads: 4, kvHeads: 4, vocab: 12);
        foreach (var (type, bits) in new[] { (GgufOutputType.F16, 11), (GgufOutputType.BF16, 8) })
        {
            using var f = GgufFile.FromBytes(GgufModelWriter.Build(m, type).ToArray());
            Assert.Equal(GgufModelWriter.FileType(type), f.GetUInt32("general.file_type"));
            Assert.Equal(GgmlType.F32, f.GetTensor("blk.0.attn_norm.weight").Type);
            var back = GgufModelLoader.Load(f);
            float rel = MathF.Pow(2, -bits);
            // Norm gains are stored in F32 and must come back bit-exact; matrices within half an ulp of the format.
            Assert.Equal(m.Weights.FinalNorm.Values(), back.Weights.FinalNorm.Values());
            AssertWeights(m.Weights, back.Weights, (x, y, n) => Assert.True(Math.Abs(x - y) <= Math.Abs(x) * rel + 1e-7f, $"{type} {n}: {x} vs {y}"));
        }
    }

    [Fact]
    public void ModelQ8_0RoundTripWithStories260KShapesFallsBackToF16ForRow172()
    {
        // stories260K: dim 64, hidden 172, 8 heads, 4 kv heads. ffn_down rows are 172 long, not a multiple of 32.
        var m = GgufTestModels.Random(dim: 64, hidden: 172, layers: 2, heads: 8, kvHeads: 4, vocab: 32, tied: true);
        using var f = GgufFile.FromBytes(GgufModelWriter.Build(m, GgufOutputType.Q8_0).ToArray());
        Assert.Equal(7u, f.GetUInt32("general.file_type"));
        Assert.Equal(2u, f.GetUInt32("general.quantization_version"));
        Assert.Equal(GgmlType.Q8_0, f.GetTensor("token_embd.weight").Type);
        Assert.Equal(GgmlType.Q8_0, f.GetTensor("blk.0.ffn_gate.weight").Type);
        Assert.Equal(GgmlType.F16, f.GetTensor("blk.0.ffn_down.weight").Type);
        Assert.Equal(GgmlType.F32, f.GetTensor("blk.1.ffn_norm.weight").Type);
        Assert.False(f.TensorsByName.ContainsKey("output.weight"));
        var back = GgufModelLoader.Load(f);
        Assert.True(back.Config.TieWordEmbeddings);
        Assert.Null(back.Weights.Output);
        AssertWeights(m.Weights, back.Weights, (x, y, n) =>
        {
            // Weights are U(-s, s) with s ≤ 3, so a block's d ≤ 3/127 and the error ≤ d/2 + 127·|d − fp16(d)| ≤ 0.5625·d.
            float tol = n.Contains("ffn_down") ? Math.Abs(x) * MathF.Pow(2, -11) + 1e-7f : 0.5625f * 3f / 127f;
            Assert.True(Math.Abs(x - y) <= tol, $"{n}: {x} vs {y}");
        });
    }

    [Fact]
    public void ModelWriterUsesLlamaCppKeyNamesTypesAndExtraMetadata()
    {
        var m = GgufTestModels.Random();
        var extra = new Dictionary<string, object>
        {
            ["llama.rope.freq_base"] = 500000f,
            ["llama.rope.scaling.type"] = "linear",
            ["llama.rope.scaling.factor"] = 4f,
        };
        using var f = GgufFile.FromBytes(GgufModelWriter.Build(m, GgufOutputType.F16, extraMetadata: extra, name: "x").ToArray());
        var expectedTypes = new Dictionary<string, GgufValueType>
        {
            ["general.architecture"] = GgufValueType.String, ["general.type"] = GgufValueType.String, ["general.name"] = GgufValueType.String,
            ["llama.block_count"] = GgufValueType.UInt32, ["llama.context_length"] = GgufValueType.UInt32,
            ["llama.embedding_length"] = GgufValueType.UInt32, ["llama.feed_forward_length"] = GgufValueType.UInt32,
            ["llama.attention.head_count"] = GgufValueType.UInt32, ["llama.attention.head_count_kv"] = GgufValueType.UInt32,
            ["llama.rope.freq_base"] = GgufValueType.Float32, ["llama.attention.layer_norm_rms_epsilon"] = GgufValueType.Float32,
            ["general.file_type"] = GgufValueType.UInt32, ["llama.vocab_size"] = GgufValueType.UInt32,
            ["llama.rope.dimension_count"] = GgufValueType.UInt32, ["tokenizer.ggml.model"] = GgufValueType.String,
            ["tokenizer.ggml.pre"] = GgufValueType.String, ["tokenizer.ggml.tokens"] = GgufValueType.Array,
            ["tokenizer.ggml.scores"] = GgufValueType.Array, ["tokenizer.ggml.token_type"] = GgufValueType.Array,
            ["tokenizer.ggml.bos_token_id"] = GgufValueType.UInt32, ["tokenizer.ggml.eos_token_id"] = GgufValueType.UInt32,
            ["tokenizer.ggml.unknown_token_id"] = GgufValueType.UInt32, ["tokenizer.ggml.add_bos_token"] = GgufValueType.Bool,
            ["tokenizer.ggml.add_eos_token"] = GgufValueType.Bool, ["general.quantization_version"] = GgufValueType.UInt32,
            ["llama.rope.scaling.type"] = GgufValueType.String, ["llama.rope.scaling.factor"] = GgufValueType.Float32,
        };
        Assert.Equal(expectedTypes.OrderBy(k => k.Key), f.Metadata.Select(e => KeyValuePair.Create(e.Key, e.Type)).OrderBy(k => k.Key));
        Assert.Equal(GgufValueType.Int32, f.GetArray("tokenizer.ggml.token_type").ElementType);
        Assert.Equal(GgufValueType.Float32, f.GetArray("tokenizer.ggml.scores").ElementType);
        Assert.Equal(500000f, f.GetFloat32("llama.rope.freq_base"));
        Assert.Equal(500000f, GgufModelLoader.ReadConfig(f).RopeTheta);
        Assert.Equal(["token_embd.weight", "blk.0.attn_norm.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight", "blk.0.attn_v.weight",
            "blk.0.attn_output.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_gate.weight", "blk.0.ffn_down.weight", "blk.0.ffn_up.weight",
            "output_norm.weight", "output.weight"], f.Tensors.Select(t => t.Name));
        // ggml order: ne[0] is the input width. Wk of a 2-head/1-kv-head dim-8 model is [kv=4 rows, 8 cols] → ne [8, 4].
        Assert.Equal([8L, 4], f.GetTensor("blk.0.attn_k.weight").Dimensions);
        Assert.Equal([16L, 8], f.GetTensor("blk.0.ffn_down.weight").Dimensions);
    }

    private static void AssertWeights(LlamaWeights a, LlamaWeights b, Action<float, float, string> check)
    {
        void Each(Weight? xw, Weight? yw, string n)
        {
            float[]? x = xw?.Values(), y = yw?.Values();
            Assert.Equal(x is null, y is null);
            if (x is null) return;
            Assert.Equal(x.Length, y!.Length);
            for (int i = 0; i < x.Length; i++) check(x[i], y[i], n);
        }
        Each(a.TokenEmbedding, b.TokenEmbedding, "token_embd");
        Each(a.FinalNorm, b.FinalNorm, "output_norm");
        Each(a.Output, b.Output, "output");
        for (int l = 0; l < a.Layers.Length; l++)
        {
            var (x, y) = (a.Layers[l], b.Layers[l]);
            Each(x.AttnNorm, y.AttnNorm, $"{l}.attn_norm"); Each(x.Wq, y.Wq, $"{l}.attn_q"); Each(x.Wk, y.Wk, $"{l}.attn_k");
            Each(x.Wv, y.Wv, $"{l}.attn_v"); Each(x.Wo, y.Wo, $"{l}.attn_output"); Each(x.FfnNorm, y.FfnNorm, $"{l}.ffn_norm");
            Each(x.WGate, y.WGate, $"{l}.ffn_gate"); Each(x.WDown, y.WDown, $"{l}.ffn_down"); Each(x.WUp, y.WUp, $"{l}.ffn_up");
        }
    }
}
