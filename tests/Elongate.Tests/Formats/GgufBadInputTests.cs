using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>
/// Malformed GGUF input: each case must end in <see cref="ModelFormatException"/> naming the file and the offset or
/// key at fault, quickly and without large allocations.
/// </summary>
public class GgufBadInputTests
{
    private const string Name = "bad.gguf";

    private static ModelFormatException Reject(byte[] bytes)
    {
        var sw = Stopwatch.StartNew();
        var e = Assert.Throws<ModelFormatException>(() =>
        {
            using var f = GgufFile.FromBytes(bytes, Name);
            GgufModelLoader.Load(f);
        });
        Assert.True(sw.ElapsedMilliseconds < 1000, $"rejection took {sw.ElapsedMilliseconds} ms");
        Assert.Equal(Name, e.FilePath);
        Assert.StartsWith(Name, e.Message);
        Assert.True(e.Offset is not null || e.Key is not null, $"no offset or key in: {e.Message}");
        return e;
    }

    private static byte[] Valid() => GgufTestModels.SmallModelBytes(GgufOutputType.F16);

    private static long ValueOffset(GgufFile f, string key) => f.MetadataByKey[key].Offset + 8 + Encoding.UTF8.GetByteCount(key) + 4;

    /// <summary>Field offsets inside a tensor info: n_dims, ne[0], type and data offset.</summary>
    private static (long NDims, long Type, long Offset) TensorFields(GgufFile f, string name)
    {
        var t = f.GetTensor(name);
        long nd = t.HeaderOffset + 8 + Encoding.UTF8.GetByteCount(name);
        long type = nd + 4 + 8L * t.Dimensions.Length;
        return (nd, type, type + 4);
    }

    private static byte[] With(byte[] bytes, long at, Action<Span<byte>> edit)
    {
        var copy = (byte[])bytes.Clone();
        edit(copy.AsSpan((int)at));
        return copy;
    }

    /// <summary>Re-emits <paramref name="bytes"/> with metadata changed: <paramref name="map"/> returns the new value, or null to drop the key.</summary>
    private static byte[] Rewrite(byte[] bytes, Func<GgufMetadataEntry, object?> map, IEnumerable<(string, object)>? add = null)
    {
        using var f = GgufFile.FromBytes(bytes);
        var w = new GgufWriter(f.Alignment);
        foreach (var e in f.Metadata)
            if (e.Key != "general.alignment" && map(e) is { } v) w.Add(e.Key, v);
        foreach (var (k, v) in add ?? []) w.Add(k, v);
        foreach (var t in f.Tensors) w.AddTensor(t.Name, t.Dimensions, t.Type, f.GetTensorData(t).ToArray());
        return w.ToArray();
    }

    [Fact]
    public void ValidSmallModelLoads()
    {
        using var f = GgufFile.FromBytes(Valid(), Name);
        var m = GgufModelLoader.Load(f);
        Assert.Equal(16, m.Vocabulary!.Count);
    }

    [Fact]
    public void TruncationAtEveryByteBeforeTheLastTensorEndsIsRejected()
    {
        var bytes = Valid();
        long lastEnd;
        using (var f = GgufFile.FromBytes(bytes)) lastEnd = f.Tensors.Max(t => t.FileOffset + t.ByteSize);
        for (int cut = 0; cut < lastEnd; cut++)
        {
            var e = Reject(bytes.AsSpan(0, cut).ToArray());
            Assert.True(e.Message.Contains("truncated") || e.Message.Contains("past the end") || e.Message.Contains("cannot fit") || e.Message.Contains("exceeds"),
                $"cut {cut}: {e.Message}");
        }
    }

    [Fact]
    public void TruncatedFileOnDiskNamesThePath()
    {
        var dir = Directory.CreateTempSubdirectory("gguf-bad");
        try
        {
            var bytes = Valid();
            foreach (int cut in new[] { 0, 3, 13, 100, bytes.Length / 2, bytes.Length - 200 })
            {
                var path = Path.Combine(dir.FullName, $"cut{cut}.gguf");
                File.WriteAllBytes(path, bytes.AsSpan(0, cut).ToArray());
                var e = Assert.Throws<ModelFormatException>(() => GgufModelLoader.Load(path));
                Assert.Equal(path, e.FilePath);
                Assert.Contains(path, e.Message);
                Assert.NotNull(e.Offset);
            }
            Assert.Throws<ModelFormatException>(() => GgufFile.Open(Path.Combine(dir.FullName, "missing.gguf")));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void WrongMagic()
    {
        var e = Reject(With(Valid(), 0, s => s[3] = (byte)'G'));
        Assert.Equal(0, e.Offset);
        Assert.Contains("magic", e.Message);
    }

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(99u, "version 99")]
    [InlineData(0u, "version 0")]
    [InlineData(0x03000000u, "big-endian")]
    public void UnsupportedVersions(uint version, string expected)
    {
        var e = Reject(With(Valid(), 4, s => BinaryPrimitives.WriteUInt32LittleEndian(s, version)));
        Assert.Equal(4, e.Offset);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void VersionTwoIsAccepted()
    {
        using var f = GgufFile.FromBytes(With(Valid(), 4, s => BinaryPrimitives.WriteUInt32LittleEndian(s, 2)));
        Assert.Equal(2u, f.Version);
        GgufModelLoader.Load(f);
    }

    [Fact]
    public void HugeCountsAreRejectedBeforeAllocating()
    {
        var v = Valid();
        var e = Reject(With(v, 8, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 60)));
        Assert.Contains("tensor count", e.Message);
        e = Reject(With(v, 16, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 60)));
        Assert.Contains("metadata count", e.Message);
    }

    [Fact]
    public void ArrayLengthOfTwoToTheSixtyIsRejectedInstantly()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        long countAt = ValueOffset(f, "tokenizer.ggml.tokens") + 4;
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Reject(With(v, countAt, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 60)));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 * v.Length, "allocated far more than the file");
        Assert.Equal("tokenizer.ggml.tokens", e.Key);
        Assert.Equal(countAt, e.Offset);
        Assert.Contains("1152921504606846976", e.Message);
    }

    [Fact]
    public void StringLengthOfTwoToTheSixtyIsRejectedInstantly()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        long at = ValueOffset(f, "general.name");
        var e = Reject(With(v, at, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 60)));
        Assert.Equal("general.name", e.Key);
        Assert.Equal(at, e.Offset);
        // The same for a key's own length, where no key name is known yet.
        e = Reject(With(v, f.MetadataByKey["general.name"].Offset, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 60)));
        Assert.Equal(f.MetadataByKey["general.name"].Offset, e.Offset);
    }

    [Fact]
    public void TensorPastTheEndOfTheFile()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var e = Reject(With(v, TensorFields(f, "output.weight").Offset, s => BinaryPrimitives.WriteUInt64LittleEndian(s, 1UL << 40)));
        Assert.Equal("output.weight", e.Key);
        Assert.Contains("past the end", e.Message);
        // Exactly one alignment unit too far still fails.
        var o = f.GetTensor("output.weight");
        ulong justPast = (ulong)(v.Length - f.DataOffset) / 32 * 32;
        e = Reject(With(v, TensorFields(f, "output.weight").Offset, s => BinaryPrimitives.WriteUInt64LittleEndian(s, justPast)));
        Assert.Equal("output.weight", e.Key);
        Assert.True(o.ByteSize > 0);
    }

    [Fact]
    public void OverlappingTensors()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var first = f.Tensors[0];
        var e = Reject(With(v, TensorFields(f, f.Tensors[1].Name).Offset, s => BinaryPrimitives.WriteUInt64LittleEndian(s, first.RelativeOffset)));
        Assert.Contains("overlaps", e.Message);
        Assert.Contains(f.Tensors[1].Name, e.Key! + e.Message);
    }

    [Fact]
    public void MisalignedTensorOffset()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var t = f.Tensors[2];
        var e = Reject(With(v, TensorFields(f, t.Name).Offset, s => BinaryPrimitives.WriteUInt64LittleEndian(s, t.RelativeOffset + 16)));
        Assert.Equal(t.Name, e.Key);
        Assert.Contains("alignment", e.Message);
    }

    [Theory]
    [InlineData(11u, "Q3_K")]
    [InlineData(1234u, "unknown type 1234")]
    public void UnknownOrUnsupportedTensorTypeNamesTheTensor(uint type, string expected)
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var fields = TensorFields(f, "blk.0.attn_q.weight");
        var e = Reject(With(v, fields.Type, s => BinaryPrimitives.WriteUInt32LittleEndian(s, type)));
        Assert.Equal("blk.0.attn_q.weight", e.Key);
        Assert.Equal(fields.Type, e.Offset);
        Assert.Contains(expected, e.Message);
    }

    [Theory]
    [InlineData(5u)]
    [InlineData(0u)]
    [InlineData(uint.MaxValue)]
    public void DimensionCountOutsideOneToFour(uint nDims)
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var e = Reject(With(v, TensorFields(f, "token_embd.weight").NDims, s => BinaryPrimitives.WriteUInt32LittleEndian(s, nDims)));
        Assert.Equal("token_embd.weight", e.Key);
        Assert.Contains("n_dims", e.Message);
    }

    [Theory]
    [InlineData("general.architecture")]
    [InlineData("llama.block_count")]
    [InlineData("llama.embedding_length")]
    [InlineData("llama.attention.head_count")]
    [InlineData("llama.attention.layer_norm_rms_epsilon")]
    [InlineData("llama.context_length")]
    public void MissingRequiredKey(string key)
    {
        var e = Reject(Rewrite(Valid(), m => m.Key == key ? null : m.Value));
        Assert.Equal(key, e.Key);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void HugeBlockCountFailsAtTheFirstMissingBlockQuickly()
    {
        // Found by the mutation test: block_count 2^31-1 once built a table of 19 billion expected tensors first.
        var e = Reject(Rewrite(Valid(), m => m.Key == "llama.block_count" ? (uint)int.MaxValue : m.Value));
        Assert.Equal("blk.1.attn_norm.weight", e.Key);
        Assert.Contains("missing", e.Message);
    }

    [Fact]
    public void MissingTensor()
    {
        using var f = GgufFile.FromBytes(Valid());
        var w = new GgufWriter();
        foreach (var m in f.Metadata) w.Add(m.Key, m.Value);
        foreach (var t in f.Tensors.Where(t => t.Name != "blk.0.ffn_up.weight")) w.AddTensor(t.Name, t.Dimensions, t.Type, f.GetTensorData(t).ToArray());
        var e = Reject(w.ToArray());
        Assert.Equal("blk.0.ffn_up.weight", e.Key);
    }

    [Theory]
    [InlineData("llama.block_count", "1")]
    [InlineData("llama.attention.layer_norm_rms_epsilon", 5u)]
    [InlineData("general.architecture", 7)]
    [InlineData("tokenizer.ggml.add_bos_token", 1)]
    public void WrongKeyType(string key, object value)
    {
        var e = Reject(Rewrite(Valid(), m => m.Key == key ? value : m.Value));
        Assert.Equal(key, e.Key);
        Assert.Contains("expected", e.Message);
    }

    [Fact]
    public void WrongArrayElementType()
    {
        var e = Reject(Rewrite(Valid(), m => m.Key == "tokenizer.ggml.scores" ? Array.ConvertAll((float[])((GgufArray)m.Value).Items, x => (double)x) : m.Value));
        Assert.Equal("tokenizer.ggml.scores", e.Key);
    }

    [Fact]
    public void InvalidUtf8InATokenNamesTheKey()
    {
        var v = Valid();
        // "▁tok7é": é is C3 A9; C3 followed by '(' is not a valid sequence.
        var bad = GgufTestModels.Patch(v, Encoding.UTF8.GetBytes("tok7é"), [.. Encoding.UTF8.GetBytes("tok7"), 0xC3, 0x28]);
        var e = Reject(bad);
        Assert.Equal("tokenizer.ggml.tokens", e.Key);
        Assert.Contains("UTF-8", e.Message);
        Assert.Contains("element 7", e.Message);
        // Overlong encoding of '/' and a lone surrogate half are rejected too.
        Reject(GgufTestModels.Patch(v, Encoding.UTF8.GetBytes("tok8é"), [.. Encoding.UTF8.GetBytes("tok8"), 0xC0, 0xAF]));
        Reject(GgufTestModels.Patch(v, Encoding.UTF8.GetBytes("▁tok9"), [0xED, 0xA0, 0x80, .. Encoding.UTF8.GetBytes("tok9")]));
    }

    [Fact]
    public void InvalidUtf8InAKeyNamesTheOffset()
    {
        var v = Valid();
        using var f = GgufFile.FromBytes(v);
        var e = Reject(GgufTestModels.Patch(v, Encoding.UTF8.GetBytes("general.name"), [.. Encoding.UTF8.GetBytes("general.nam"), 0xFF]));
        Assert.Equal(f.MetadataByKey["general.name"].Offset, e.Offset);
        Assert.Contains("UTF-8", e.Message);
    }

    [Fact]
    public void ShapeDisagreeingWithConfigNamesTensorAndBothShapes()
    {
        var e = Reject(Rewrite(Valid(), m => m.Key == "llama.feed_forward_length" ? 20u : m.Value));
        Assert.Equal("blk.0.ffn_gate.weight", e.Key);
        Assert.Contains("[8, 16]", e.Message);
        Assert.Contains("[8, 20]", e.Message);
    }

    [Theory]
    [InlineData(48u)]
    [InlineData(0u)]
    public void AlignmentMustBeAPowerOfTwo(uint alignment)
    {
        var e = Reject(AlignmentKey(alignment));
        Assert.Equal("general.alignment", e.Key);
    }

    /// <summary>The writer refuses a general.alignment that disagrees with its padding, so add a same-length key and rename it.</summary>
    private static byte[] AlignmentKey(object value) =>
        GgufTestModels.Patch(Rewrite(Valid(), m => m.Value, [("general.alignmenX", value)]),
            Encoding.UTF8.GetBytes("general.alignmenX"), Encoding.UTF8.GetBytes("general.alignment"));

    [Fact]
    public void AlignmentMustBeUInt32()
    {
        var e = Reject(AlignmentKey(32UL));
        Assert.Equal("general.alignment", e.Key);
    }

    [Fact]
    public void DuplicateKeyAndBadBoolAndUnknownValueType()
    {
        var v = Valid();
        // Two keys made identical by patching the second one's name.
        var twoSame = Rewrite(v, m => m.Value, [("zz.a", 1u), ("zz.b", 2u)]);
        var dup = Reject(GgufTestModels.Patch(twoSame, Encoding.UTF8.GetBytes("zz.b"), Encoding.UTF8.GetBytes("zz.a")));
        Assert.Equal("zz.a", dup.Key);
        Assert.Contains("duplicate", dup.Message);

        var withBool = Rewrite(v, m => m.Value, [("zz.flag", true)]);
        using var g = GgufFile.FromBytes(withBool);
        long at = ValueOffset(g, "zz.flag");
        var b = Reject(With(withBool, at, s => s[0] = 2));
        Assert.Equal("zz.flag", b.Key);

        var t = Reject(With(withBool, at - 4, s => BinaryPrimitives.WriteUInt32LittleEndian(s, 13)));
        Assert.Equal("zz.flag", t.Key);
        Assert.Contains("unknown value type 13", t.Message);
    }

    [Fact]
    public void DeeplyNestedArraysAreRejected()
    {
        var inner = GgufArray.From(new[] { 1 });
        for (int i = 0; i < GgufFile.MaxArrayDepth + 2; i++) inner = new GgufArray(GgufValueType.Array, new[] { inner });
        var bytes = new GgufWriter().Add("deep", inner).ToArray();
        var e = Assert.Throws<ModelFormatException>(() => GgufFile.FromBytes(bytes, Name));
        Assert.Equal("deep", e.Key);
        Assert.Contains("nested", e.Message);
    }

    [Fact]
    public void VocabularyProblems()
    {
        var v = Valid();
        var e = Reject(Rewrite(v, m => m.Key == "tokenizer.ggml.token_type" ? Enumerable.Repeat(9, 16).ToArray() : m.Value));
        Assert.Equal("tokenizer.ggml.token_type", e.Key);
        e = Reject(Rewrite(v, m => m.Key == "tokenizer.ggml.scores" ? new float[15] : m.Value));
        Assert.Equal("tokenizer.ggml.scores", e.Key);
        e = Reject(Rewrite(v, m => m.Key == "tokenizer.ggml.eos_token_id" ? 16u : m.Value));
        Assert.Equal("tokenizer.ggml.eos_token_id", e.Key);
        // A byte-level BPE ("gpt2") vocabulary needs its merges.
        var bpe = Rewrite(v, m => m.Key == "tokenizer.ggml.model" ? "gpt2" : m.Value);
        using (var f = GgufFile.FromBytes(bpe, Name))
            Assert.Equal("tokenizer.ggml.merges", Assert.Throws<ModelFormatException>(() => GgufVocabularyReader.Read(f)).Key);
        // A kind Elongate does not read is named by the vocabulary reader, while the model loader still loads the
        // weights and leaves Vocabulary null.
        var wordPiece = Rewrite(v, m => m.Key == "tokenizer.ggml.model" ? "bert" : m.Value);
        using var g = GgufFile.FromBytes(wordPiece, Name);
        e = Assert.Throws<ModelFormatException>(() => GgufVocabularyReader.Read(g));
        Assert.Equal("tokenizer.ggml.model", e.Key);
        Assert.Null(GgufModelLoader.Load(g).Vocabulary);
    }

    [Fact]
    public void UnsupportedArchitecture()
    {
        var e = Reject(Rewrite(Valid(), m => m.Key == "general.architecture" ? "qwen2" : m.Value));
        Assert.Equal("general.architecture", e.Key);
        Assert.Contains("qwen2", e.Message);
    }

    [Fact]
    public void EmptyFileOnDisk()
    {
        var path = Path.GetTempFileName();
        try
        {
            var e = Assert.Throws<ModelFormatException>(() => GgufFile.Open(path));
            Assert.Equal(path, e.FilePath);
            Assert.Equal(0, e.Offset);
        }
        finally { File.Delete(path); }
    }
}
