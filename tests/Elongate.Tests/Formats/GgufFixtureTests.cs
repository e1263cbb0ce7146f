using Elongate.Tests.Model;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>The real GGUF fixtures described in shared/fixtures/PROVENANCE.md.</summary>
public class GgufFixtureTests
{
    [SkippableFact]
    public void TinyRandomLlamaParsesAsDescribed()
    {
        using var f = GgufFile.Open(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        Assert.Equal(3u, f.Version);
        Assert.Equal(18, f.Metadata.Count);
        Assert.Equal(12, f.Tensors.Count);
        Assert.Equal(32u, f.Alignment);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal("LLaMA v2", f.GetString("general.name"));
        Assert.Equal(4096, f.GetInteger("llama.context_length"));
        Assert.Equal(8, f.GetInteger("llama.embedding_length"));
        Assert.Equal(1, f.GetInteger("llama.block_count"));
        Assert.Equal(32, f.GetInteger("llama.feed_forward_length"));
        Assert.Equal(4, f.GetInteger("llama.rope.dimension_count"));
        Assert.Equal(2, f.GetInteger("llama.attention.head_count"));
        Assert.Equal(2, f.GetInteger("llama.attention.head_count_kv"));
        Assert.Equal(1e-5f, f.GetFloat32("llama.attention.layer_norm_rms_epsilon"));
        Assert.Equal(1, f.GetInteger("general.file_type"));
        Assert.False(f.ContainsKey("llama.rope.freq_base"));
        Assert.False(f.ContainsKey("general.alignment"));

        var expected = new Dictionary<string, (long[] Shape, GgmlType Type)>
        {
            ["token_embd.weight"] = ([8, 32000], GgmlType.F16),
            ["blk.0.attn_q.weight"] = ([8, 8], GgmlType.F16),
            ["blk.0.attn_k.weight"] = ([8, 8], GgmlType.F16),
            ["blk.0.attn_v.weight"] = ([8, 8], GgmlType.F16),
            ["blk.0.attn_output.weight"] = ([8, 8], GgmlType.F16),
            ["blk.0.ffn_gate.weight"] = ([8, 32], GgmlType.F16),
            ["blk.0.ffn_up.weight"] = ([8, 32], GgmlType.F16),
            ["blk.0.ffn_down.weight"] = ([32, 8], GgmlType.F16),
            ["blk.0.attn_norm.weight"] = ([8], GgmlType.F32),
            ["blk.0.ffn_norm.weight"] = ([8], GgmlType.F32),
            ["output_norm.weight"] = ([8], GgmlType.F32),
            ["output.weight"] = ([8, 32000], GgmlType.F16),
        };
        Assert.Equal(expected.Keys.Order(), f.Tensors.Select(t => t.Name).Order());
        foreach (var t in f.Tensors)
        {
            Assert.Equal(expected[t.Name].Shape, t.Dimensions);
            Assert.Equal(expected[t.Name].Type, t.Type);
            Assert.Equal(0, t.FileOffset % 32);
        }
    }

    [SkippableFact]
    public void MetadataPrintsForInfo()
    {
        using var f = GgufFile.Open(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var lines = f.Metadata.ToDictionary(e => e.Key, e => e.ValueToString(3));
        Assert.Equal("\"LLaMA v2\"", lines["general.name"]);
        Assert.Equal("4096", lines["llama.context_length"]);
        Assert.Equal("1E-05", lines["llama.attention.layer_norm_rms_epsilon"]);
        Assert.Equal("[\"<unk>\", \"<s>\", \"</s>\", … (+31997 more)] (String × 32000)", lines["tokenizer.ggml.tokens"]);
    }

    [SkippableFact]
    public void TinyRandomLlamaLoadsWithDefaultRopeBaseAndUntiedHead()
    {
        var m = GgufModelLoader.Load(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var c = m.Config;
        Assert.Equal(10000f, c.RopeTheta);
        Assert.False(c.TieWordEmbeddings);
        Assert.Equal((8, 32, 1, 2, 2, 32000, 4096, 4), (c.HiddenSize, c.IntermediateSize, c.NumLayers, c.NumHeads, c.NumKvHeads, c.VocabSize, c.MaxPositionEmbeddings, c.RotaryDim));
        Assert.Equal(1e-5f, c.RmsNormEps);
        Assert.NotNull(m.Weights.Output);
        Assert.Equal(8 * 32000, m.Weights.TokenEmbedding.Values().Length);
        Assert.Equal(8 * 32, m.Weights.Layers[0].WDown.Values().Length);
        Assert.All(m.Weights.TokenEmbedding.Values(), v => Assert.True(float.IsFinite(v)));
        Assert.Contains(m.Weights.TokenEmbedding.Values(), v => v != 0f);

        // Row-major [out, in]: element (row r, col k) of ffn_down (ne = [32, 8]) is the F16 at index r*32 + k in the file.
        using var f = GgufFile.Open(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var raw = f.GetTensorData(f.GetTensor("blk.0.ffn_down.weight"));
        for (int i = 0; i < 8 * 32; i++)
            Assert.Equal((float)System.Buffers.Binary.BinaryPrimitives.ReadHalfLittleEndian(raw.Slice(i * 2)), m.Weights.Layers[0].WDown.Values()[i]);
    }

    [SkippableFact]
    public void TinyRandomLlamaVocabularyEqualsTheLlamaSpmVocabFile()
    {
        var m = GgufModelLoader.Load(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        using var spmFile = GgufFile.Open(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf"));
        Assert.Empty(spmFile.Tensors);
        Assert.Equal(22, spmFile.Metadata.Count);
        var spm = GgufVocabularyReader.Read(spmFile);
        var v = m.Vocabulary!;
        Assert.Equal(32000, v.Count);
        Assert.Equal(spm.Pieces, v.Pieces);
        Assert.Equal(spm.Scores, v.Scores);
        Assert.Equal(spm.Types, v.Types);
        Assert.Equal((1, 2, 0), (v.BosId, v.EosId, v.UnkId));
        Assert.True(spm.AddBos);
        Assert.False(spm.AddEos);
        // Llama 2 tokenizer facts from PROVENANCE.md §4.
        Assert.Equal("<0x00>", v.Pieces[3]);
        Assert.Equal("\u2581\u2581", v.Pieces[259]);
        Assert.Equal(-1e9f, v.Scores[259]);
        Assert.Equal("给", v.Pieces[31999]);
        Assert.Equal(-31740f, v.Scores[31999]);
        Assert.Equal(256, v.Types.Count(t => t == Elongate.Tokenization.TokenType.Byte));
        Assert.Equal(31741, v.Types.Count(t => t == Elongate.Tokenization.TokenType.Normal));
    }

    [SkippableFact]
    public void TinyRandomLlamaVocabularyEqualsTokenizerModel()
    {
        var fromGguf = GgufVocabularyReader.ReadFile(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var fromProto = Elongate.Tokenization.SentencePieceModelReader.Read(Fixtures.Path("tokenizers/tokenizer.model")).Vocabulary;
        Assert.Equal(fromProto.Pieces, fromGguf.Pieces);
        Assert.Equal(fromProto.Scores, fromGguf.Scores);
        Assert.Equal(fromProto.Types, fromGguf.Types);
        Assert.Equal((fromProto.BosId, fromProto.EosId, fromProto.UnkId), (fromGguf.BosId, fromGguf.EosId, fromGguf.UnkId));
    }

    [SkippableFact]
    public void FixtureReWrittenByOurWriterIsByteIdenticalInEveryTensor()
    {
        // Re-emitting every key and tensor (raw bytes, same types) must reproduce all of them exactly.
        using var f = GgufFile.Open(Fixtures.Path("models/llama-2-tiny-random.gguf"));
        var w = new GgufWriter(f.Alignment);
        foreach (var e in f.Metadata) w.Add(e.Key, e.Value);
        foreach (var t in f.Tensors) w.AddTensor(t.Name, t.Dimensions, t.Type, f.GetTensorData(t).ToArray());
        var bytes = w.ToArray();
        using var g = GgufFile.FromBytes(bytes);
        GgufRoundTripTests.AssertSameContent(f, g);
        // Same layout rules as llama.cpp's writer, so the file is the same size.
        Assert.Equal(f.Length, g.Length);
    }
}
