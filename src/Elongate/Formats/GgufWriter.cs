using System.Buffers.Binary;
using System.Text;
using Elongate.Kernels;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Builds a GGUF v3 file: metadata of every type (including nested arrays) and tensors stored as F32, F16, BF16 or
/// Q8_0 (or any supported type given as raw bytes). The layout is the one llama.cpp's gguf loader insists on: tensor
/// infos, zero padding to the alignment, then the tensors in info order, each padded to the alignment, with each
/// info's offset equal to the running padded size. Files are written to a temporary name and renamed, so a failure
/// never leaves a partial model behind.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<(string Key, GgufValueType Type, object Value)> _meta = [];
    // fp32 sources are encoded chunk by chunk while writing, so a large model is never held twice in memory and no
    // single encoded byte[] has to exceed the 2 GiB array limit (a 4 GB fp32 embedding table is fine).
    private readonly List<(string Name, long[] Ne, GgmlType Type, long Size, Func<byte[]>? Encode, ReadOnlyMemory<float> Values)> _tensors = [];
    private readonly HashSet<string> _keys = new(StringComparer.Ordinal);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    /// <summary>Alignment of the data section and each tensor; written as general.alignment when not 32.</summary>
    public uint Alignment { get; }

    /// <summary>A writer with the given alignment (a non-zero power of two; llama.cpp's default is 32).</summary>
    public GgufWriter(uint alignment = GgufFile.DefaultAlignment)
    {
        if (alignment == 0 || (alignment & (alignment - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "alignment must be a non-zero power of two");
        Alignment = alignment;
        if (alignment != GgufFile.DefaultAlignment) Add("general.alignment", alignment);
    }

    /// <summary>Number of metadata entries added so far.</summary>
    public int MetadataCount => _meta.Count;

    /// <summary>
    /// Adds a key whose GGUF type follows the .NET type of <paramref name="value"/>: byte → UInt8, sbyte → Int8, …,
    /// string → String, bool → Bool, <see cref="GgufArray"/> or a typed array (float[], string[], …) → Array.
    /// </summary>
    public GgufWriter Add(string key, object value)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(value);
        if (value is Array arr) value = GgufArray.From(arr);
        var type = GgufArray.ValueTypeOf(value);
        // The writer pads with its own alignment, so a different general.alignment would describe the file wrongly.
        if (key == "general.alignment" && !(value is uint a && a == Alignment))
            throw new ArgumentException($"general.alignment must be a UInt32 equal to the writer's alignment {Alignment}; pass it to the constructor", nameof(value));
        if (!_keys.Add(key)) throw new ArgumentException($"metadata key '{key}' was already added", nameof(key));
        _meta.Add((key, type, value));
        return this;
    }

    /// <summary>Adds a tensor from raw bytes already encoded as <paramref name="type"/>; <paramref name="ne"/> is in ggml order (ne[0] = row length).</summary>
    public GgufWriter AddTensor(string name, long[] ne, GgmlType type, byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        long expected = CheckTensor(name, ne, type);
        if (data.LongLength != expected)
            throw new ArgumentException($"tensor '{name}' of {type} {string.Join("x", ne)} needs {expected} bytes, got {data.Length}", nameof(data));
        Register(name, ne, type, expected, () => data, default);
        return this;
    }

    /// <summary>
    /// Adds a tensor whose bytes (encoded as <paramref name="type"/>, ggml-order <paramref name="ne"/>) are produced by
    /// <paramref name="encode"/> only while the file is written, one tensor at a time, so a model far larger than
    /// memory in fp32 (a 7B model quantized from random or mapped weights) never has to be held whole.
    /// </summary>
    public GgufWriter AddTensor(string name, long[] ne, GgmlType type, Func<byte[]> encode)
    {
        ArgumentNullException.ThrowIfNull(encode);
        long expected = CheckTensor(name, ne, type);
        Register(name, ne, type, expected, () =>
        {
            var data = encode();
            if (data.LongLength != expected)
                throw new InvalidOperationException($"tensor '{name}' of {type} {string.Join("x", ne)} needs {expected} bytes, its encoder gave {data.LongLength}");
            return data;
        }, default);
        return this;
    }

    /// <summary>
    /// Adds an fp32 tensor that is encoded as <paramref name="type"/> (F32, F16, BF16 or Q8_0) when the file is written;
    /// <paramref name="values"/> must not change until then.
    /// </summary>
    public GgufWriter AddTensor(string name, long[] ne, ReadOnlyMemory<float> values, GgmlType type)
    {
        if (type is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0))
            throw new ArgumentOutOfRangeException(nameof(type), type, "the writer encodes only F32, F16, BF16 and Q8_0");
        long expected = CheckTensor(name, ne, type);
        if (GgmlTypes.ByteCount(type, values.Length) != expected)
            throw new ArgumentException($"tensor '{name}' of shape {string.Join("x", ne)} needs {expected / GgmlTypes.TypeSize(type) * GgmlTypes.BlockSize(type)} values, got {values.Length}", nameof(values));
        Register(name, ne, type, expected, null, values);
        return this;
    }

    private void Register(string name, long[] ne, GgmlType type, long size, Func<byte[]>? encode, ReadOnlyMemory<float> values)
    {
        if (!_names.Add(name)) throw new ArgumentException($"tensor '{name}' was already added", nameof(name));
        _tensors.Add((name, (long[])ne.Clone(), type, size, encode, values));
    }

    private static long CheckTensor(string name, long[] ne, GgmlType type)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(ne);
        if (ne.Length is 0 or > 4) throw new ArgumentException("a tensor has 1 to 4 dimensions", nameof(ne));
        long n = 1;
        foreach (var d in ne)
        {
            if (d <= 0) throw new ArgumentException($"dimension {d} is not positive", nameof(ne));
            n = checked(n * d);
        }
        if (ne[0] % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"row length {ne[0]} is not a multiple of the {type} block size", nameof(ne));
        return GgmlTypes.ByteCount(type, n);
    }

    /// <summary>The whole file image.</summary>
    public byte[] ToArray()
    {
        using var ms = new MemoryStream();
        WriteTo(ms);
        return ms.ToArray();
    }

    /// <summary>Writes the file to <paramref name="path"/> via a temporary file in the same folder and an atomic rename.</summary>
    public void Save(string path) => AtomicFile.Write(path, WriteTo);

    /// <summary>Writes the file image to <paramref name="stream"/>.</summary>
    public void WriteTo(Stream stream)
    {
        var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true);
        long pos = 0;
        void Bytes(ReadOnlySpan<byte> b) { w.Write(b); pos += b.Length; }
        void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); Bytes(b); }
        void U64(ulong v) { Span<byte> b = stackalloc byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); Bytes(b); }
        void Str(string s) { var b = Encoding.UTF8.GetBytes(s); U64((ulong)b.Length); Bytes(b); }
        void Pad() { long p = (Alignment - pos % Alignment) % Alignment; for (long i = 0; i < p; i++) { w.Write((byte)0); } pos += p; }

        void Value(GgufValueType t, object v)
        {
            Span<byte> b = stackalloc byte[8];
            switch (t)
            {
                case GgufValueType.UInt8: b[0] = (byte)v; Bytes(b[..1]); break;
                case GgufValueType.Int8: b[0] = unchecked((byte)(sbyte)v); Bytes(b[..1]); break;
                case GgufValueType.Bool: b[0] = (bool)v ? (byte)1 : (byte)0; Bytes(b[..1]); break;
                case GgufValueType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)v); Bytes(b[..2]); break;
                case GgufValueType.Int16: BinaryPrimitives.WriteInt16LittleEndian(b, (short)v); Bytes(b[..2]); break;
                case GgufValueType.UInt32: U32((uint)v); break;
                case GgufValueType.Int32: U32(unchecked((uint)(int)v)); break;
                case GgufValueType.Float32: U32(BitConverter.SingleToUInt32Bits((float)v)); break;
                case GgufValueType.UInt64: U64((ulong)v); break;
                case GgufValueType.Int64: U64(unchecked((ulong)(long)v)); break;
                case GgufValueType.Float64: U64(BitConverter.DoubleToUInt64Bits((double)v)); break;
                case GgufValueType.String: Str((string)v); break;
                case GgufValueType.Array:
                    var a = (GgufArray)v;
                    U32((uint)a.ElementType);
                    U64((ulong)a.Count);
                    for (int i = 0; i < a.Count; i++) Value(a.ElementType, a.Items.GetValue(i)!);
                    break;
                default: throw new InvalidOperationException($"unknown value type {t}");
            }
        }

        U32(GgufFile.Magic);
        U32(3);
        U64((ulong)_tensors.Count);
        U64((ulong)_meta.Count);
        foreach (var (key, type, value) in _meta)
        {
            Str(key);
            U32((uint)type);
            Value(type, value);
        }
        ulong offset = 0;
        foreach (var (name, ne, type, size, _, _) in _tensors)
        {
            Str(name);
            U32((uint)ne.Length);
            foreach (var d in ne) U64((ulong)d);
            U32((uint)type);
            U64(offset);
            offset += ((ulong)size + Alignment - 1) / Alignment * Alignment;
        }
        Pad();
        foreach (var t in _tensors)
        {
            if (t.Encode is not null) Bytes(t.Encode());
            else
            {
                const int chunk = 1 << 20; // elements per encoded piece; a multiple of every block size
                for (int i = 0; i < t.Values.Length; i += chunk)
                    Bytes(GgmlQuants.Quantize(t.Type, t.Values.Span.Slice(i, Math.Min(chunk, t.Values.Length - i))));
            }
            Pad();
        }
        w.Flush();
    }
}
