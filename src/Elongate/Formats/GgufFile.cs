using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Text;
using Elongate.Kernels;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// A parsed GGUF file (versions 2 and 3): its metadata in file order, its tensor infos, and access to tensor data.
/// Files opened from a path are memory-mapped, so a multi-gigabyte model costs no managed memory until a tensor is
/// dequantized. Every count, length, offset and shape is checked against the bytes actually present before anything
/// is allocated, so a corrupt or hostile header fails fast with <see cref="ModelFormatException"/> (naming the file and
/// the offset, key or tensor) instead of exhausting memory.
/// </summary>
public sealed class GgufFile : IDisposable
{
    /// <summary>"GGUF" read as a little-endian uint32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>Alignment of the data section and of each tensor when general.alignment is absent.</summary>
    public const uint DefaultAlignment = 32;

    /// <summary>Deepest nesting of arrays accepted; GGUF writers nest at most a level or two, and a limit keeps a hostile file from overflowing the stack.</summary>
    public const int MaxArrayDepth = 16;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly PinnedBytes _bytes;
    private readonly Dictionary<string, GgufMetadataEntry> _byKey;
    private readonly Dictionary<string, GgufTensorInfo> _tensorByName;

    /// <summary>File path or description used in messages.</summary>
    public string Source { get; }

    /// <summary>GGUF version (2 or 3).</summary>
    public uint Version { get; }

    /// <summary>Total size in bytes.</summary>
    public long Length => _bytes.Length;

    /// <summary>Data alignment in bytes (general.alignment or 32).</summary>
    public uint Alignment { get; }

    /// <summary>Absolute offset of the tensor data section.</summary>
    public long DataOffset { get; }

    /// <summary>All key/value pairs in file order.</summary>
    public IReadOnlyList<GgufMetadataEntry> Metadata { get; }

    /// <summary>Key/value pairs by key.</summary>
    public IReadOnlyDictionary<string, GgufMetadataEntry> MetadataByKey => _byKey;

    /// <summary>Tensor infos in file order.</summary>
    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Tensor infos by name.</summary>
    public IReadOnlyDictionary<string, GgufTensorInfo> TensorsByName => _tensorByName;

    private GgufFile(PinnedBytes bytes, string source)
    {
        _bytes = bytes;
        Source = source;
        var p = new Parser(bytes, source);
        try
        {
            (Version, Metadata, Tensors, Alignment, DataOffset) = p.ParseAll();
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
        _byKey = new Dictionary<string, GgufMetadataEntry>(StringComparer.Ordinal);
        foreach (var e in Metadata) _byKey[e.Key] = e;
        _tensorByName = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal);
        foreach (var t in Tensors) _tensorByName[t.Name] = t;
    }

    /// <summary>Memory-maps and parses the file at <paramref name="path"/>. Dispose the result to unmap it.</summary>
    public static GgufFile Open(string path)
    {
        long length;
        try
        {
            length = new FileInfo(path).Length;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
        if (!File.Exists(path)) throw new ModelFormatException(path, "file not found");
        if (length == 0) return new GgufFile(PinnedBytes.FromArray([]), path); // the parser reports the truncation
        PinnedBytes mapped;
        try
        {
            mapped = PinnedBytes.MapFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot map file: {e.Message}", inner: e);
        }
        return new GgufFile(mapped, path);
    }

    /// <summary>Parses an in-memory GGUF image (tests, small files); <paramref name="source"/> names it in messages.</summary>
    public static GgufFile FromBytes(byte[] bytes, string source = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        return new GgufFile(PinnedBytes.FromArray(bytes), source);
    }

    /// <summary>True when <paramref name="key"/> is present.</summary>
    public bool ContainsKey(string key) => _byKey.ContainsKey(key);

    /// <summary>The value of <paramref name="key"/>, or false when absent.</summary>
    public bool TryGetValue(string key, out object value)
    {
        if (_byKey.TryGetValue(key, out var e)) { value = e.Value; return true; }
        value = null!;
        return false;
    }

    public string GetString(string key) => Get<string>(key, GgufValueType.String);
    public byte GetUInt8(string key) => Get<byte>(key, GgufValueType.UInt8);
    public sbyte GetInt8(string key) => Get<sbyte>(key, GgufValueType.Int8);
    public ushort GetUInt16(string key) => Get<ushort>(key, GgufValueType.UInt16);
    public short GetInt16(string key) => Get<short>(key, GgufValueType.Int16);
    public uint GetUInt32(string key) => Get<uint>(key, GgufValueType.UInt32);
    public int GetInt32(string key) => Get<int>(key, GgufValueType.Int32);
    public ulong GetUInt64(string key) => Get<ulong>(key, GgufValueType.UInt64);
    public long GetInt64(string key) => Get<long>(key, GgufValueType.Int64);
    public float GetFloat32(string key) => Get<float>(key, GgufValueType.Float32);
    public double GetFloat64(string key) => Get<double>(key, GgufValueType.Float64);
    public bool GetBool(string key) => Get<bool>(key, GgufValueType.Bool);
    public GgufArray GetArray(string key) => Get<GgufArray>(key, GgufValueType.Array);

    /// <summary>An array value whose elements must be of <paramref name="elementType"/>, as its typed .NET array.</summary>
    public T[] GetArray<T>(string key, GgufValueType elementType)
    {
        var a = GetArray(key);
        if (a.ElementType != elementType)
            throw Error($"expected an array of {elementType}, found an array of {a.ElementType}", key);
        return (T[])a.Items;
    }

    /// <summary>
    /// Any integer-typed value as a long. Writers disagree on the width of counts (uint32 in convert_hf_to_gguf, uint64 or
    /// int32 elsewhere), so hyper-parameter readers accept every integer type; non-integers are still rejected.
    /// </summary>
    public long GetInteger(string key)
    {
        if (!_byKey.TryGetValue(key, out var e)) throw Error("required key is missing", key);
        return e.Value switch
        {
            byte v => v, sbyte v => v, ushort v => v, short v => v, uint v => v, int v => v, long v => v,
            ulong v when v <= long.MaxValue => (long)v,
            ulong v => throw Error($"value {v} is too large", key),
            _ => throw Error($"expected an integer, found {e.Type}", key),
        };
    }

    /// <summary>A float32 or float64 value as a double (writers differ on the width of e.g. RoPE settings).</summary>
    public double GetReal(string key)
    {
        if (!_byKey.TryGetValue(key, out var e)) throw Error("required key is missing", key);
        return e.Value switch
        {
            float v => v,
            double v => v,
            _ => throw Error($"expected a floating-point number, found {e.Type}", key),
        };
    }

    private T Get<T>(string key, GgufValueType type)
    {
        if (!_byKey.TryGetValue(key, out var e)) throw Error("required key is missing", key);
        if (e.Type != type) throw Error($"expected {type}, found {e.Type}", key);
        return (T)e.Value;
    }

    private ModelFormatException Error(string problem, string key) => new(Source, problem, key: key);

    /// <summary>The tensor called <paramref name="name"/>; throws <see cref="ModelFormatException"/> naming it when absent.</summary>
    public GgufTensorInfo GetTensor(string name) =>
        _tensorByName.TryGetValue(name, out var t) ? t : throw new ModelFormatException(Source, "tensor is missing", key: name);

    /// <summary>Raw bytes of a tensor (as stored, not dequantized); tensors over 2 GiB must be read with <see cref="DequantizeTensor"/>.</summary>
    public ReadOnlySpan<byte> GetTensorData(GgufTensorInfo tensor)
    {
        if (tensor.ByteSize > int.MaxValue)
            throw new ModelFormatException(Source, $"tensor of {tensor.ByteSize} bytes is too large for one span", tensor.FileOffset, tensor.Name);
        return _bytes.Span(tensor.FileOffset, (int)tensor.ByteSize);
    }

    /// <summary>
    /// Address of a tensor's first byte in the file image; valid until this file is disposed. The header parse has
    /// already checked that every tensor lies inside the file.
    /// </summary>
    public unsafe byte* GetTensorPointer(GgufTensorInfo tensor) => _bytes.Pointer + tensor.FileOffset;

    /// <summary>A tensor converted to fp32, in storage order (ne[0] fastest, i.e. row-major [ne1, ne0]).</summary>
    public float[] DequantizeTensor(GgufTensorInfo tensor)
    {
        long n = tensor.ElementCount;
        if (n > Array.MaxLength)
            throw new ModelFormatException(Source, $"{n} elements do not fit one array", tensor.FileOffset, tensor.Name);
        var result = new float[n];
        // Blocks never straddle rows (ne[0] is a multiple of the block size), so convert runs of whole blocks of at most
        // ~16 MiB each, in parallel: every source span stays far inside int range however large the tensor or its rows are.
        int bs = GgmlTypes.BlockSize(tensor.Type), ts = GgmlTypes.TypeSize(tensor.Type);
        long blocks = n / bs;
        long perChunk = Math.Max(1, (16L << 20) / ts);
        long chunks = (blocks + perChunk - 1) / perChunk;
        void Convert(long c)
        {
            long b = c * perChunk;
            int k = (int)Math.Min(perChunk, blocks - b);
            GgmlQuants.Dequantize(tensor.Type, _bytes.Span(tensor.FileOffset + b * ts, k * ts), result.AsSpan((int)(b * bs), k * bs));
        }
        if (chunks == 1) Convert(0);
        else Parallel.For(0L, chunks, Convert);
        return result;
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose() => _bytes.Dispose();

    /// <summary>Sequential, bounds-checked header reader.</summary>
    private sealed class Parser(PinnedBytes bytes, string source)
    {
        private long _pos;
        private readonly long _end = bytes.Length;

        private long Remaining => _end - _pos;

        private ModelFormatException Fail(string problem, long? offset = null, string? key = null) =>
            new(source, problem, offset ?? _pos, key);

        private ReadOnlySpan<byte> Take(int n, string what, string? key)
        {
            if (n > Remaining)
                throw Fail($"file is truncated: {what} needs {n} bytes, {Remaining} left", _pos, key);
            var s = bytes.Span(_pos, n);
            _pos += n;
            return s;
        }

        private byte U8(string what, string? key) => Take(1, what, key)[0];
        private ushort U16(string what, string? key) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what, key));
        private uint U32(string what, string? key) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what, key));
        private ulong U64(string what, string? key) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what, key));

        private string Str(string what, string? key)
        {
            long at = _pos;
            ulong len = U64($"{what} length", key);
            if (len > (ulong)Remaining)
                throw Fail($"{what} length {len} exceeds the {Remaining} bytes left in the file", at, key);
            if (len > int.MaxValue)
                throw Fail($"{what} length {len} is too large for a string", at, key);
            var raw = Take((int)len, what, key);
            try
            {
                return StrictUtf8.GetString(raw);
            }
            catch (DecoderFallbackException e)
            {
                throw new ModelFormatException(source, $"{what} is not valid UTF-8", at, key, e);
            }
        }

        public (uint Version, List<GgufMetadataEntry> Meta, List<GgufTensorInfo> Tensors, uint Alignment, long DataOffset) ParseAll()
        {
            if (_end < 4) throw Fail($"file is truncated: {_end} bytes is too short for the GGUF magic", 0);
            uint magic = U32("magic", null);
            if (magic != Magic)
                throw Fail($"not a GGUF file: magic is 0x{magic:X8}, expected 0x{Magic:X8} (\"GGUF\")", 0);
            uint version = U32("version", null);
            if (version == 1)
                throw Fail("GGUF version 1 is not supported (it used 32-bit counts; re-convert the model to v3)", 4);
            if (version != 2 && version != 3)
            {
                var hint = BinaryPrimitives.ReverseEndianness(version) is 2 or 3 ? " (this looks like a big-endian GGUF, which is not supported)" : "";
                throw Fail($"unsupported GGUF version {version}; only 2 and 3 are supported{hint}", 4);
            }
            long countsAt = _pos;
            ulong nTensors = U64("tensor count", null);
            ulong nKv = U64("metadata count", null);
            // Each key/value pair takes at least 8 (key length) + 4 (type) + 1 bytes; each tensor info at least
            // 8 (name length) + 4 (n_dims) + 8 (ne[0]) + 4 (type) + 8 (offset). Checked before anything is allocated.
            if (nKv > (ulong)Remaining / 13)
                throw Fail($"metadata count {nKv} cannot fit in the {Remaining} bytes left", countsAt + 8);
            if (nTensors > (ulong)Remaining / 32)
                throw Fail($"tensor count {nTensors} cannot fit in the {Remaining} bytes left", countsAt);

            var meta = new List<GgufMetadataEntry>((int)Math.Min(nKv, 4096));
            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < nKv; i++)
            {
                long at = _pos;
                string key = Str("metadata key", null);
                if (!seen.Add(key)) throw Fail("duplicate metadata key", at, key);
                long typeAt = _pos;
                uint type = U32("value type", key);
                if (type > (uint)GgufValueType.Float64) throw Fail($"unknown value type {type}", typeAt, key);
                object value = Value((GgufValueType)type, key, 0);
                meta.Add(new GgufMetadataEntry(key, (GgufValueType)type, value, at));
            }

            uint alignment = DefaultAlignment;
            var alignEntry = meta.Find(e => e.Key == "general.alignment");
            if (alignEntry is not null)
            {
                if (alignEntry.Value is not uint a)
                    throw Fail($"expected UInt32, found {alignEntry.Type}", alignEntry.Offset, alignEntry.Key);
                if (a == 0 || (a & (a - 1)) != 0)
                    throw Fail($"alignment {a} is not a non-zero power of two", alignEntry.Offset, alignEntry.Key);
                alignment = a;
            }

            var infos = new List<(string Name, long[] Ne, GgmlType Type, ulong Offset, long Size, long At)>((int)Math.Min(nTensors, 4096));
            var names = new HashSet<string>(StringComparer.Ordinal);
            for (ulong i = 0; i < nTensors; i++)
            {
                long at = _pos;
                string name = Str("tensor name", null);
                if (!names.Add(name)) throw Fail("duplicate tensor name", at, name);
                long dimsAt = _pos;
                uint nDims = U32("n_dims", name);
                if (nDims is 0 or > 4) throw Fail($"n_dims is {nDims}; GGML tensors have 1 to 4 dimensions", dimsAt, name);
                var ne = new long[nDims];
                long elements = 1;
                for (int d = 0; d < nDims; d++)
                {
                    long neAt = _pos;
                    ulong v = U64($"ne[{d}]", name);
                    if (v == 0 || v > long.MaxValue) throw Fail($"dimension ne[{d}] = {(long)v} is not positive", neAt, name);
                    ne[d] = (long)v;
                    if (elements > long.MaxValue / ne[d]) throw Fail("element count overflows 64 bits", neAt, name);
                    elements *= ne[d];
                }
                long typeAt = _pos;
                uint rawType = U32("tensor type", name);
                if (!GgmlTypes.IsSupported(rawType))
                    throw Fail($"unsupported tensor type {rawType} ({GgmlTypes.TypeName(rawType)})", typeAt, name);
                var type = (GgmlType)rawType;
                ulong offset = U64("tensor offset", name);
                int bs = GgmlTypes.BlockSize(type);
                if (ne[0] % bs != 0)
                    throw Fail($"row length ne[0] = {ne[0]} is not a multiple of the {type} block size {bs}", dimsAt, name);
                long rowBlocks = ne[0] / bs, ts = GgmlTypes.TypeSize(type);
                long rows = elements / ne[0];
                if (rowBlocks > long.MaxValue / ts || rowBlocks * ts > long.MaxValue / rows)
                    throw Fail("byte size overflows 64 bits", dimsAt, name);
                infos.Add((name, ne, type, offset, rowBlocks * ts * rows, at));
            }

            long headerEnd = _pos;
            long dataOffset = (headerEnd + alignment - 1) / alignment * alignment;
            if (infos.Count > 0 && dataOffset > _end)
                throw Fail($"file is truncated: data section would start at {dataOffset}, past the end ({_end})", headerEnd);

            var tensors = new List<GgufTensorInfo>(infos.Count);
            long dataLen = Math.Max(0, _end - dataOffset);
            foreach (var t in infos)
            {
                if (t.Offset % alignment != 0)
                    throw Fail($"data offset {t.Offset} is not a multiple of the alignment {alignment}", t.At, t.Name);
                if (t.Offset > (ulong)dataLen || t.Size > dataLen - (long)t.Offset)
                    throw Fail($"data [{t.Offset}, +{t.Size}) lies past the end of the file (data section is {dataLen} bytes)", t.At, t.Name);
                tensors.Add(new GgufTensorInfo
                {
                    Name = t.Name, Dimensions = t.Ne, Type = t.Type, RelativeOffset = t.Offset,
                    FileOffset = dataOffset + (long)t.Offset, ByteSize = t.Size, HeaderOffset = t.At,
                });
            }
            var byStart = tensors.OrderBy(t => t.FileOffset).ToArray();
            for (int i = 1; i < byStart.Length; i++)
            {
                var prev = byStart[i - 1];
                if (byStart[i].FileOffset < prev.FileOffset + prev.ByteSize)
                    throw Fail($"data overlaps tensor '{prev.Name}'", byStart[i].HeaderOffset, byStart[i].Name);
            }
            return (version, meta, tensors, alignment, infos.Count > 0 ? dataOffset : Math.Min(dataOffset, _end));
        }

        private object Value(GgufValueType type, string key, int depth)
        {
            switch (type)
            {
                case GgufValueType.UInt8: return U8("value", key);
                case GgufValueType.Int8: return (sbyte)U8("value", key);
                case GgufValueType.UInt16: return U16("value", key);
                case GgufValueType.Int16: return (short)U16("value", key);
                case GgufValueType.UInt32: return U32("value", key);
                case GgufValueType.Int32: return (int)U32("value", key);
                case GgufValueType.Float32: return BitConverter.UInt32BitsToSingle(U32("value", key));
                case GgufValueType.UInt64: return U64("value", key);
                case GgufValueType.Int64: return (long)U64("value", key);
                case GgufValueType.Float64: return BitConverter.UInt64BitsToDouble(U64("value", key));
                case GgufValueType.Bool: return Bool(key);
                case GgufValueType.String: return Str("string value", key);
                case GgufValueType.Array: return Array(key, depth + 1);
                default: throw Fail($"unknown value type {(uint)type}", _pos, key);
            }
        }

        private bool Bool(string key)
        {
            long at = _pos;
            byte b = U8("bool value", key);
            if (b > 1) throw Fail($"bool value is {b}, expected 0 or 1", at, key);
            return b == 1;
        }

        private static int MinSize(GgufValueType t) => t switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 => 8,
            GgufValueType.String => 8,   // the length prefix
            GgufValueType.Array => 12,   // element type + count
            _ => 1,
        };

        private GgufArray Array(string key, int depth)
        {
            long at = _pos;
            if (depth > MaxArrayDepth) throw Fail($"arrays nested deeper than {MaxArrayDepth} levels", at, key);
            uint et = U32("array element type", key);
            if (et > (uint)GgufValueType.Float64) throw Fail($"unknown array element type {et}", at, key);
            var t = (GgufValueType)et;
            long countAt = _pos;
            ulong n = U64("array length", key);
            if (n > (ulong)(Remaining / MinSize(t)))
                throw Fail($"array length {n} of {t} cannot fit in the {Remaining} bytes left", countAt, key);
            if (n * (ulong)MinSize(t) > int.MaxValue)
                throw Fail($"array length {n} of {t} is too large for one .NET array", countAt, key);
            int count = (int)n;
            switch (t)
            {
                case GgufValueType.UInt8: return new GgufArray(t, Take(count, "array", key).ToArray());
                case GgufValueType.Int8:
                {
                    var src = Take(count, "array", key);
                    var a = new sbyte[count];
                    for (int i = 0; i < count; i++) a[i] = (sbyte)src[i];
                    return new GgufArray(t, a);
                }
                case GgufValueType.Bool:
                {
                    var a = new bool[count];
                    for (int i = 0; i < count; i++) a[i] = Bool(key);
                    return new GgufArray(t, a);
                }
                case GgufValueType.UInt16: return new GgufArray(t, Fixed<ushort>(count, key));
                case GgufValueType.Int16: return new GgufArray(t, Fixed<short>(count, key));
                case GgufValueType.UInt32: return new GgufArray(t, Fixed<uint>(count, key));
                case GgufValueType.Int32: return new GgufArray(t, Fixed<int>(count, key));
                case GgufValueType.Float32: return new GgufArray(t, Fixed<float>(count, key));
                case GgufValueType.UInt64: return new GgufArray(t, Fixed<ulong>(count, key));
                case GgufValueType.Int64: return new GgufArray(t, Fixed<long>(count, key));
                case GgufValueType.Float64: return new GgufArray(t, Fixed<double>(count, key));
                case GgufValueType.String:
                {
                    var a = new string[count];
                    for (int i = 0; i < count; i++) a[i] = Str($"string element {i}", key);
                    return new GgufArray(t, a);
                }
                case GgufValueType.Array:
                {
                    var a = new GgufArray[count];
                    for (int i = 0; i < count; i++) a[i] = Array(key, depth + 1);
                    return new GgufArray(t, a);
                }
                default: throw Fail($"unknown array element type {et}", at, key);
            }
        }

        private T[] Fixed<T>(int count, string key) where T : unmanaged
        {
            int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            var src = Take(count * size, "array", key); // count·size ≤ int.MaxValue was checked, so no overflow
            var a = new T[count];
            src.CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(a.AsSpan()));
            if (!BitConverter.IsLittleEndian) throw Fail("big-endian hosts are not supported", null, key);
            return a;
        }
    }
}
