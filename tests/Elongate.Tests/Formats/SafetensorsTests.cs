using System.Buffers.Binary;
using System.Text;
using Elongate.Formats;
using static Elongate.Tests.Formats.HfTestSupport;
using Elongate.Common;

namespace Elongate.Tests.Formats;

public class SafetensorsTests
{
    // ---- Writer output against files written by hand from the specification ----

    [Fact]
    public void Writer_MatchesHandBuiltFile_SingleF32Tensor()
    {
        // Spec: u64 LE header size, compact JSON {name: {dtype, shape, data_offsets}}, raw LE data.
        // This header is exactly 64 bytes, so no padding is needed (the reference's own serialization test uses this case).
        const string header = "{\"attn.0\":{\"dtype\":\"F32\",\"shape\":[1,2,3],\"data_offsets\":[0,24]}}";
        Assert.Equal(64, header.Length);
        var expected = Image(header, F32Bytes(0, 1, 2, 3, 4, 5));
        Assert.Equal(new byte[] { 64, 0, 0, 0, 0, 0, 0, 0 }, expected[..8]);
        Assert.Equal(new byte[] { 0, 0, 0x80, 0x3F }, expected[(8 + 64 + 4)..(8 + 64 + 8)]); // 1.0f little-endian

        var actual = SafetensorsWriter.Serialize([new SafetensorsTensor("attn.0", [1, 2, 3], [0, 1, 2, 3, 4, 5])]);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Writer_PadsHeaderWithSpacesTo8Bytes()
    {
        const string json = "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}";
        Assert.Equal(65, json.Length);
        var expected = Image(json + new string(' ', 7), F32Bytes(0, 1, 2, 3, 4, 5));
        Assert.Equal(72UL, BinaryPrimitives.ReadUInt64LittleEndian(expected));
        var actual = SafetensorsWriter.Serialize([new SafetensorsTensor("attn0", [1, 1, 2, 3], [0, 1, 2, 3, 4, 5])]);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Writer_EmptyFileIsBracesAndPadding()
    {
        Assert.Equal(Image("{}      "), SafetensorsWriter.Serialize([]));
        Assert.Equal(Image("{\"__metadata__\":{\"framework\":\"pt\"}}     "),
            SafetensorsWriter.Serialize([], new Dictionary<string, string> { ["framework"] = "pt" }));
    }

    [Fact]
    public void Writer_SortsByDtypeDescendingThenName_MetadataFirst()
    {
        // Reference order: dtype descending in its alignment enum (F32 > BF16 > F16), then name; __metadata__ leads.
        const string json = "{\"__metadata__\":{\"format\":\"pt\"}," +
                            "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}," +
                            "\"z\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}," +
                            "\"a\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[12,14]}," +
                            "\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[14,18]}}";
        var padded = json + new string(' ', (8 - json.Length % 8) % 8);
        var expected = Image(padded, F32Bytes(0.5f, -1f), F32Bytes(3f), [0x80, 0x3F], [0x00, 0x3C, 0x00, 0xC0]);
        var actual = SafetensorsWriter.Serialize(
        [
            new SafetensorsTensor("b", [2], [1f, -2f], SafetensorsDtype.F16),
            new SafetensorsTensor("z", [1], [3f]),
            new SafetensorsTensor("a", [1], [1f], SafetensorsDtype.BF16),
            new SafetensorsTensor("c", [2], [0.5f, -1f]),
        ], SafetensorsWriter.PyTorchMetadata);
        Assert.Equal(expected, actual);
        Assert.Equal(0, (8 + padded.Length) % 8);
    }

    [Fact]
    public void Writer_EscapesJsonLikeSerde_NonAsciiRaw()
    {
        var bytes = SafetensorsWriter.Serialize([new SafetensorsTensor("q\"\\\n\u0001é", [0], [])]);
        var header = Encoding.UTF8.GetString(bytes, 8, (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes)).TrimEnd(' ');
        Assert.Equal("{\"q\\\"\\\\\\n\\u0001é\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}", header);
        using var r = SafetensorsReader.FromBytes(bytes);
        Assert.True(r.Contains("q\"\\\n\u0001é"));
    }

    // ---- Reader ----

    [Fact]
    public void Reader_ReadsHandBuiltFile()
    {
        const string json = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," +
                            "\"h\":{\"shape\":[2],\"dtype\":\"F16\",\"data_offsets\":[16,20],\"extra\":[1,{\"x\":2}]}}";
        var bytes = Image(json, F32Bytes(1, 2, 3, 4), [0x00, 0x3C, 0x00, 0xC0]);
        using var r = SafetensorsReader.FromBytes(bytes, "hand.safetensors");
        Assert.Equal("pt", r.Metadata!["format"]);
        Assert.Equal(["w", "h"], r.Tensors.Select(t => t.Name));
        Assert.Equal(new float[] { 1, 2, 3, 4 }, r.ReadFloat32("w"));
        Assert.Equal(new float[] { 1, -2 }, r.ReadFloat32("h"));
        Assert.Equal(new long[] { 2, 2 }, r.GetInfo("w").Shape);
        Assert.Equal(8 + json.Length, r.DataOffset);
    }

    [Fact]
    public void Reader_MemoryMapsFiles_RoundTripsAllFloatTypes()
    {
        using var dir = new TempDir();
        var path = dir.File("t.safetensors");
        var values = new float[] { 0f, -0f, 1f, -2.5f, 3.14159f, 1e-7f, 65504f, float.PositiveInfinity };
        SafetensorsWriter.Write(path,
        [
            new SafetensorsTensor("f32", [2, 4], values),
            new SafetensorsTensor("f16", [8], values, SafetensorsDtype.F16),
            new SafetensorsTensor("bf16", [8], values, SafetensorsDtype.BF16),
        ]);
        Assert.Equal(["t.safetensors"], dir.Entries());
        using var r = SafetensorsReader.Open(path);
        Assert.Equal(values, r.ReadFloat32("f32"));
        Assert.Equal(values.Select(v => (float)(Half)v), r.ReadFloat32("f16"));
        Assert.Equal(values.Select(v => SafetensorsDtypes.BFloat16ToFloat(SafetensorsDtypes.FloatToBFloat16(v))), r.ReadFloat32("bf16"));
    }

    [Fact]
    public void Conversions_MatchKnownBitPatterns()
    {
        // IEEE binary16: 1 → 0x3C00, largest finite 65504 → 0x7BFF, 1/3 → 0x3555 (round to nearest), 2^-24 smallest subnormal → 0x0001.
        Assert.Equal(0x3C00, SafetensorsDtypes.FloatToHalf(1f));
        Assert.Equal(0x7BFF, SafetensorsDtypes.FloatToHalf(65504f));
        Assert.Equal(0x3555, SafetensorsDtypes.FloatToHalf(1f / 3));
        Assert.Equal(0x0001, SafetensorsDtypes.FloatToHalf(MathF.Pow(2, -24)));
        Assert.Equal(-2f, SafetensorsDtypes.HalfToFloat(0xC000));
        // bfloat16 = top 16 bits of fp32, round to nearest even: π → 0x4049 (3.140625); 1+2^-8 is a tie → even 0x3F80;
        // 1+3·2^-8 is a tie → even 0x3F82; just above the tie rounds up.
        Assert.Equal(0x3F80, SafetensorsDtypes.FloatToBFloat16(1f));
        Assert.Equal(0x4049, SafetensorsDtypes.FloatToBFloat16(MathF.PI));
        Assert.Equal(0x3F80, SafetensorsDtypes.FloatToBFloat16(1f + MathF.Pow(2, -8)));
        Assert.Equal(0x3F82, SafetensorsDtypes.FloatToBFloat16(1f + 3 * MathF.Pow(2, -8)));
        Assert.Equal(0x3F81, SafetensorsDtypes.FloatToBFloat16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(SafetensorsDtypes.BFloat16ToFloat(SafetensorsDtypes.FloatToBFloat16(float.NaN))));
        Assert.Equal(3.140625f, SafetensorsDtypes.BFloat16ToFloat(0x4049));
    }

    [Fact]
    public void Reader_NonFloatDtypeIsListedButNotConvertible()
    {
        var bytes = Image("{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]);
        using var r = SafetensorsReader.FromBytes(bytes, "ids.safetensors");
        Assert.Equal(SafetensorsDtype.I64, r.GetInfo("ids").Dtype);
        Assert.Equal(16, r.ReadRaw("ids").Length);
        var e = Assert.Throws<ModelFormatException>(() => r.ReadFloat32("ids"));
        Assert.Equal("ids", e.Key);
        Assert.Contains("I64", e.Message);
        Assert.Contains("ids.safetensors", e.Message);
        Assert.NotNull(e.Offset);
    }

    // ---- Bad input: each must be a ModelFormatException naming the file and an offset or key ----

    public static TheoryData<string, byte[], string> BadFiles()
    {
        var good = Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2));
        byte[] WithLength(ulong n)
        {
            var b = (byte[])good.Clone();
            BinaryPrimitives.WriteUInt64LittleEndian(b, n);
            return b;
        }
        var nonUtf8 = Encoding.UTF8.GetBytes("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"__metadata__\":{\"k\":\"XX\"}}");
        int xx = Encoding.UTF8.GetString(nonUtf8).IndexOf("XX", StringComparison.Ordinal);
        nonUtf8[xx] = 0xC3; // a lead byte followed by ASCII: invalid UTF-8
        nonUtf8[xx + 1] = 0x28;
        return new TheoryData<string, byte[], string>
        {
            { "empty", [], "shorter than the 8-byte" },
            { "truncated length", good[..5], "shorter than the 8-byte" },
            { "truncated data", good[..^1], "run past" },
            { "trailing bytes", [.. good, 0], "must end at the end of the file" },
            { "header length 2^60", WithLength(1UL << 60), "exceeds" },
            { "header length 2^64-1", WithLength(ulong.MaxValue), "exceeds" },
            { "header length past EOF", WithLength(1000), "past the end" },
            { "invalid JSON", Image("{\"a\":{\"dtype\":\"F32\",", F32Bytes(1, 2)), "not valid JSON" },
            { "JSON array root", Image("[1,2]   "), "must be a JSON object" },
            { "trailing JSON", Image("{} {}"), "not valid JSON" },
            { "non-UTF-8 header", Image(nonUtf8, F32Bytes(1, 2)), "not valid UTF-8" },
            { "unknown dtype", Image("{\"a\":{\"dtype\":\"F31\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "unknown dtype 'F31'" },
            { "lower-case dtype", Image("{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "unknown dtype" },
            { "negative dimension", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "negative" },
            { "fractional dimension", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "integers" },
            { "overflowing shape", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "overflow" },
            { "overflowing bytes", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "overflow" },
            { "huge dimension", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "integers" },
            { "offsets past end", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[250],\"data_offsets\":[0,1000]}}", F32Bytes(1, 2)), "run past" },
            { "offsets reversed", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", F32Bytes(1, 2)), "end before they begin" },
            { "three offsets", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", F32Bytes(1, 2)), "more than 2" },
            { "byte length != shape*dtype", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "needs 12" },
            { "overlapping tensors", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", F32Bytes(1, 2, 3)), "overlap" },
            { "same range twice", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "overlap" },
            { "gap between tensors", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", F32Bytes(1, 2, 3)), "without gaps" },
            { "duplicate tensor", Image("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", F32Bytes(1, 2)), "twice" },
            { "missing dtype", Image("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "no 'dtype'" },
            { "metadata not strings", Image("{\"__metadata__\":{\"n\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", F32Bytes(1, 2)), "must be a string" },
            { "entry not object", Image("{\"a\":[1]}"), "must be an object" },
        };
    }

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void Reader_RejectsBadInput(string what, byte[] bytes, string expectedProblem)
    {
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsReader.FromBytes(bytes, $"bad-{what}.safetensors").Dispose());
        Assert.Equal($"bad-{what}.safetensors", e.FilePath);
        Assert.StartsWith($"bad-{what}.safetensors", e.Message);
        Assert.True(e.Offset is not null || e.Key is not null, $"{what}: no offset or key in '{e.Message}'");
        Assert.Contains(expectedProblem, e.Message);
    }

    [Fact]
    public void Reader_ErrorNamesTensorAndHeaderOffset()
    {
        const string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"bad\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[4,8]}}";
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsReader.FromBytes(Image(json, F32Bytes(1, 2))));
        Assert.Equal("bad", e.Key);
        Assert.Equal(8 + json.IndexOf("\"bad\"", StringComparison.Ordinal), e.Offset); // the entry's position in the file
    }

    [Fact]
    public void Reader_OnDiskErrorsNameThePath()
    {
        using var dir = new TempDir();
        var path = dir.File("broken.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsReader.Open(path));
        Assert.Equal(path, e.FilePath);
        Assert.Equal(0, e.Offset);
        var missing = Assert.Throws<ModelFormatException>(() => SafetensorsReader.Open(dir.File("nope.safetensors")));
        Assert.Contains("nope.safetensors", missing.Message);
    }

    // ---- Writer failures ----

    [Fact]
    public void Writer_RejectsBadTensorsBeforeCreatingAnything()
    {
        using var dir = new TempDir();
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("x.safetensors"), [new SafetensorsTensor("a", [3], [1f, 2f])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("x.safetensors"),
            [new SafetensorsTensor("a", [1], [1f]), new SafetensorsTensor("a", [1], [2f])]));
        Assert.Throws<ArgumentException>(() => SafetensorsWriter.Write(dir.File("x.safetensors"), [new SafetensorsTensor("a", [1], [1f], SafetensorsDtype.I32)]));
        Assert.Empty(dir.Entries());
    }

    [Fact]
    public void Writer_FailureAtRenameLeavesNoTempFiles()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("x.safetensors")); // the rename onto a folder must fail
        Assert.ThrowsAny<IOException>(() => SafetensorsWriter.Write(dir.File("x.safetensors"), [new SafetensorsTensor("a", [1], [1f])]));
        Assert.Equal(["x.safetensors"], dir.Entries());
        Assert.True(Directory.Exists(dir.File("x.safetensors")));
    }

    // ---- Sharded checkpoints ----

    private static List<SafetensorsTensor> ShardableTensors() =>
    [
        new("t.a", [4], [1, 2, 3, 4]), new("t.b", [4], [5, 6, 7, 8]), new("t.c", [2], [9, 10]), new("t.d", [3], [11, 12, 13]),
    ];

    [Fact]
    public void Sharded_WritesIndexAndShards_ReadsBack()
    {
        using var dir = new TempDir();
        var written = SafetensorsWriter.WriteSharded(dir.Path, ShardableTensors(), maxShardBytes: 20);
        Assert.Equal(["model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
            "model.safetensors.index.json"], written);
        var index = SafetensorsIndex.Load(dir.File("model.safetensors.index.json"));
        Assert.Equal("52", index.Metadata["total_size"]);
        Assert.Equal("model-00001-of-00003.safetensors", index.WeightMap["t.a"]);
        Assert.Equal("model-00002-of-00003.safetensors", index.WeightMap["t.b"]);
        Assert.Equal("model-00003-of-00003.safetensors", index.WeightMap["t.c"]); // 16 + 8 > 20 starts shard 3; 8 + 12 = 20 fits
        Assert.Equal("model-00003-of-00003.safetensors", index.WeightMap["t.d"]);
        using var ck = SafetensorsCheckpoint.Open(dir.File("model.safetensors.index.json"));
        Assert.Equal(3, ck.Shards.Count);
        Assert.Equal(new float[] { 11, 12, 13 }, ck.ReadFloat32("t.d"));
        Assert.Equal(new float[] { 9, 10 }, ck.ReadFloat32("t.c"));

        // Writing again unsharded removes the stale shards and index.
        var single = SafetensorsWriter.WriteSharded(dir.Path, ShardableTensors(), maxShardBytes: 1 << 20);
        Assert.Equal(["model.safetensors"], single);
        Assert.Equal(["model.safetensors"], dir.Entries());
    }

    private static void WriteIndex(TempDir dir, string weightMapJson) =>
        File.WriteAllText(dir.File("model.safetensors.index.json"), "{\"metadata\":{\"total_size\":8},\"weight_map\":" + weightMapJson + "}");

    [Fact]
    public void Sharded_MissingShardIsNamed()
    {
        using var dir = new TempDir();
        SafetensorsWriter.WriteSharded(dir.Path, ShardableTensors(), maxShardBytes: 20);
        File.Delete(dir.File("model-00002-of-00003.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsCheckpoint.Open(dir.File("model.safetensors.index.json")).Dispose());
        Assert.Equal("model-00002-of-00003.safetensors", e.Key);
        Assert.EndsWith("model.safetensors.index.json", e.FilePath);
    }

    [Fact]
    public void Sharded_TensorInTwoShardsIsAnError()
    {
        using var dir = new TempDir();
        SafetensorsWriter.Write(dir.File("s1.safetensors"), [new SafetensorsTensor("x", [1], [1f])]);
        SafetensorsWriter.Write(dir.File("s2.safetensors"), [new SafetensorsTensor("x", [1], [2f]), new SafetensorsTensor("y", [1], [3f])]);
        WriteIndex(dir, "{\"x\":\"s1.safetensors\",\"y\":\"s2.safetensors\"}");
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsCheckpoint.Open(dir.File("model.safetensors.index.json")).Dispose());
        Assert.Equal("x", e.Key);
        Assert.Contains("also stored in shard", e.Message);
    }

    [Theory]
    [InlineData("{\"x\":\"s2.safetensors\",\"y\":\"s1.safetensors\"}", "y", "places the tensor in 's1.safetensors'")]
    [InlineData("{\"x\":\"s2.safetensors\"}", "y", "not listed in the index")]
    [InlineData("{\"x\":\"s1.safetensors\",\"z\":\"s1.safetensors\"}", "z", "does not hold it")]
    [InlineData("{\"x\":\"../s1.safetensors\"}", "weight_map.x", "plain file name")]
    [InlineData("{\"x\":\"/etc/passwd\"}", "weight_map.x", "plain file name")]
    [InlineData("{\"x\":1}", "weight_map.x", "must be a string")]
    [InlineData("{}", "weight_map", "empty")]
    public void Sharded_IndexInconsistenciesAreErrors(string weightMap, string key, string problem)
    {
        using var dir = new TempDir();
        SafetensorsWriter.Write(dir.File("s1.safetensors"), [new SafetensorsTensor("x", [1], [1f])]);
        SafetensorsWriter.Write(dir.File("s2.safetensors"), [new SafetensorsTensor("y", [1], [3f])]);
        WriteIndex(dir, weightMap);
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsCheckpoint.Open(dir.File("model.safetensors.index.json")).Dispose());
        Assert.Equal(key, e.Key);
        Assert.Contains(problem, e.Message);
    }

    [Fact]
    public void Sharded_ShardErrorsNameTheShardFile()
    {
        using var dir = new TempDir();
        SafetensorsWriter.Write(dir.File("s1.safetensors"), [new SafetensorsTensor("x", [1], [1f])]);
        File.WriteAllBytes(dir.File("s2.safetensors"), Image("{\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", F32Bytes(1)));
        WriteIndex(dir, "{\"x\":\"s1.safetensors\",\"y\":\"s2.safetensors\"}");
        var e = Assert.Throws<ModelFormatException>(() => SafetensorsCheckpoint.Open(dir.File("model.safetensors.index.json")).Dispose());
        Assert.EndsWith("s2.safetensors", e.FilePath);
        Assert.Equal("y", e.Key);
    }

    // ---- Seeded robustness ----

    [Fact]
    public void Mutations_OfHeaderRegion_OnlyEverThrowModelFormatException()
    {
        var valid = SafetensorsWriter.Serialize(
        [
            new SafetensorsTensor("model.w", [2, 3], [1, 2, 3, 4, 5, 6]),
            new SafetensorsTensor("model.b", [4], [1, -1, 0.5f, 2], SafetensorsDtype.BF16),
            new SafetensorsTensor("model.h", [2], [0.25f, 8], SafetensorsDtype.F16),
            new SafetensorsTensor("ids", [1], [7]),
        ], SafetensorsWriter.PyTorchMetadata);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(valid);
        using (var check = SafetensorsReader.FromBytes(valid)) Assert.Equal(4, check.Tensors.Count);
        const int count = 10_000;
        int rejected = HeaderMutator.Run(valid, headerEnd, count, seed: 20241126, bytes =>
        {
            using var r = SafetensorsReader.FromBytes(bytes, "mutant.safetensors");
            foreach (var t in r.Tensors)
                if (t.Dtype.IsFloatConvertible()) r.ReadFloat32(t.Name);
                else r.ReadRaw(t.Name);
        });
        // Most header mutations break the structure, but some (a digit in a name, a space) are harmless: both paths run.
        Assert.InRange(rejected, count / 2, count - 1);
    }

    [Fact]
    public void Mutations_OfIndexJson_OnlyEverThrowModelFormatException()
    {
        var index = new SafetensorsIndex(
            new Dictionary<string, string> { ["a.weight"] = "model-00001-of-00002.safetensors", ["b.weight"] = "model-00002-of-00002.safetensors" },
            new Dictionary<string, string> { ["total_size"] = "1234" });
        var valid = index.ToJsonBytes();
        Assert.Equal(2, SafetensorsIndex.Parse(valid, "index.json").WeightMap.Count);
        const int count = 10_000;
        int rejected = HeaderMutator.Run(valid, valid.Length, count, seed: 77, bytes => SafetensorsIndex.Parse(bytes, "mutant-index.json"));
        Assert.InRange(rejected, count / 2, count - 1);
    }
}
