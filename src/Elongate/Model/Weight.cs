using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Model;

/// <summary>
/// One model tensor as it is stored: its name, shape, GGML element type and bytes. The bytes are either a managed
/// array pinned for the weight's lifetime (models built in memory, trained or read with <c>--no-mmap</c>) or a range
/// of a memory-mapped file (GGUF read with mmap), so quantized weights are computed on directly by the kernels and a
/// 7B Q4_0 model costs its file size, not 28 GB of fp32.
/// </summary>
/// <remarks>
/// The shape is PyTorch's order: a matrix is [rows, cols] = [out, in] (nn.Linear), rows contiguous, so ggml's
/// ne = [cols, rows]. A mapped weight is valid while the file it points into is open: <see cref="LlamaModel.Dispose"/>
/// closes it, after which the model must not be used.
/// </remarks>
public sealed unsafe class Weight
{
    private readonly Array? _array;   // managed storage (float[] for F32 built in memory, else byte[])
    private readonly object? _owner;  // keeps a mapped file alive while this weight is reachable

    /// <summary>What keeps mapped bytes valid (the open file), or null for managed storage.</summary>
    internal object? Owner => _owner;
    private GCHandle _pin;
    private readonly byte* _data;

    /// <summary>Tensor name (GGUF naming, e.g. blk.0.attn_q.weight), for messages.</summary>
    public string Name { get; }

    /// <summary>Shape in PyTorch order: [rows, cols] for matrices, [n] for vectors.</summary>
    public long[] Shape { get; }

    /// <summary>Element type of the stored bytes.</summary>
    public GgmlType Type { get; }

    /// <summary>Elements in the tensor.</summary>
    public long ElementCount { get; }

    /// <summary>Bytes in the tensor as stored.</summary>
    public long ByteCount { get; }

    /// <summary>Output features (first dimension); 1 for a vector.</summary>
    public int Rows => Shape.Length == 2 ? (int)Shape[0] : 1;

    /// <summary>Input features (last dimension).</summary>
    public int Cols => (int)Shape[^1];

    /// <summary>Whether the bytes live in a memory-mapped file rather than in managed memory.</summary>
    public bool IsMapped => _array is null;

    /// <summary>Address of the first byte; stable for the weight's lifetime (pinned or mapped).</summary>
    public byte* Data => _data;

    private Weight(string name, long[] shape, GgmlType type, Array? array, object? owner, byte* data)
    {
        Name = name;
        Shape = shape;
        Type = type;
        ElementCount = shape.Aggregate(1L, (a, b) => a * b);
        ByteCount = GgmlTypes.ByteCount(type, ElementCount);
        _array = array;
        _owner = owner;
        if (array is not null)
        {
            _pin = GCHandle.Alloc(array, GCHandleType.Pinned);
            data = (byte*)_pin.AddrOfPinnedObject();
        }
        _data = data;
    }

    /// <summary>Frees the pin of managed storage.</summary>
    ~Weight()
    {
        if (_pin.IsAllocated) _pin.Free();
    }

    /// <summary>An F32 weight over <paramref name="values"/> (not copied: later writes to the array are seen).</summary>
    public static Weight FromFloats(string name, long[] shape, float[] values)
    {
        CheckShape(name, shape);
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (values.LongLength != n) throw new ArgumentException($"{name}: {values.LongLength} values for shape [{string.Join(", ", shape)}]", nameof(values));
        return new Weight(name, shape, GgmlType.F32, values, null, null);
    }

    /// <summary>A weight over stored bytes of <paramref name="type"/> in a managed array (not copied).</summary>
    public static Weight FromBytes(string name, long[] shape, GgmlType type, byte[] bytes)
    {
        CheckShape(name, shape);
        long n = shape.Aggregate(1L, (a, b) => a * b);
        if (n % GgmlTypes.BlockSize(type) != 0 || GgmlTypes.ByteCount(type, n) != bytes.LongLength)
            throw new ArgumentException($"{name}: {bytes.LongLength} bytes do not hold shape [{string.Join(", ", shape)}] of {type}", nameof(bytes));
        return new Weight(name, shape, type, bytes, null, null);
    }

    /// <summary>
    /// A weight over bytes that another object owns (a mapped file): <paramref name="owner"/> is kept reachable as long
    /// as this weight is, and must keep <paramref name="data"/> valid until it is disposed.
    /// </summary>
    public static Weight FromPointer(string name, long[] shape, GgmlType type, byte* data, object owner)
    {
        CheckShape(name, shape);
        return new Weight(name, shape, type, null, owner, data);
    }

    private static void CheckShape(string name, long[] shape)
    {
        if (shape.Length is < 1 or > 2 || shape.Any(d => d <= 0 || d > int.MaxValue))
            throw new ArgumentException($"{name}: shape [{string.Join(", ", shape)}] is not a vector or matrix of positive sizes", nameof(shape));
    }

    /// <summary>The stored bytes (tensors under 2 GiB; larger ones are read by row ranges with <see cref="RowBytes"/>).</summary>
    public ReadOnlySpan<byte> Bytes => ByteCount <= int.MaxValue
        ? new ReadOnlySpan<byte>(_data, (int)ByteCount)
        : throw new InvalidOperationException($"{Name}: {ByteCount} bytes do not fit one span");

    /// <summary>Bytes of one stored row (its cols elements).</summary>
    public long RowByteCount => GgmlTypes.ByteCount(Type, Cols);

    /// <summary>The bytes of rows [row0, row0 + count).</summary>
    public ReadOnlySpan<byte> RowBytes(int row0, int count)
    {
        if ((uint)row0 > (uint)Rows || count < 0 || row0 + count > Rows) throw new ArgumentOutOfRangeException(nameof(row0));
        long rb = RowByteCount;
        return new ReadOnlySpan<byte>(_data + row0 * rb, checked((int)(count * rb)));
    }

    /// <summary>The managed F32 array behind this weight, or null when it is stored otherwise (mapped or another type).</summary>
    public float[]? ManagedFloats => _array as float[];

    /// <summary>The values as F32, in place: only for F32 storage.</summary>
    public ReadOnlySpan<float> Floats => Type == GgmlType.F32 && ElementCount <= int.MaxValue
        ? new ReadOnlySpan<float>(_data, (int)ElementCount)
        : throw new InvalidOperationException($"{Name} is stored as {Type}, not F32; dequantize it instead");

    /// <summary>Row <paramref name="row"/> converted to F32 into <paramref name="destination"/> (length <see cref="Cols"/>).</summary>
    public void DequantizeRow(int row, Span<float> destination) =>
        GgmlQuants.Dequantize(Type, RowBytes(row, 1), destination[..Cols]);

    /// <summary>The whole tensor converted to a fresh F32 array (row-major).</summary>
    public float[] Dequantize()
    {
        if (ElementCount > Array.MaxLength) throw new InvalidOperationException($"{Name}: {ElementCount} elements do not fit one array");
        var result = new float[ElementCount];
        // Row by row keeps every span within int range whatever the tensor's total size.
        int rows = Rows, cols = Cols;
        for (int r = 0; r < rows; r++) DequantizeRow(r, result.AsSpan(r * cols, cols));
        return result;
    }

    /// <summary>Shape as text for messages, e.g. [4096, 11008].</summary>
    public string ShapeString => "[" + string.Join(", ", Shape) + "]";

    /// <inheritdoc />
    public override string ToString() => $"{Name} {ShapeString} {Type}";
}
