using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Reads one safetensors file: an 8-byte little-endian header length N, N bytes of UTF-8 JSON mapping each
/// tensor name to {dtype, shape, data_offsets} (plus an optional string→string "__metadata__"), then the raw
/// little-endian tensor data. Every rule the reference implementation (huggingface/safetensors) enforces is
/// checked before any tensor is touched: header length at most 100,000,000 bytes and inside the file, strict
/// UTF-8, well-formed JSON, known dtype, shape product without overflow, data_offsets of exactly
/// product(shape)·size(dtype) bytes, and tensors that, sorted by offset, tile the data section exactly — no gap,
/// no overlap, no trailing bytes. Files are memory-mapped, so opening a multi-gigabyte checkpoint copies nothing.
/// </summary>
public sealed class SafetensorsReader : IDisposable
{
    /// <summary>The reference implementation's cap on the JSON header (safetensors' MAX_HEADER_SIZE).</summary>
    public const long MaxHeaderSize = 100_000_000;

    private readonly PinnedBytes _bytes;
    private readonly Dictionary<string, SafetensorsTensorInfo> _byName;

    /// <summary>File path, or the description given for an in-memory buffer.</summary>
    public string Source { get; }

    /// <summary>Length of the JSON header (including its padding), N.</summary>
    public long HeaderLength { get; }

    /// <summary>File offset where the data section starts (8 + N).</summary>
    public long DataOffset => 8 + HeaderLength;

    /// <summary>The "__metadata__" map, or null when the header has none.</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; }

    /// <summary>All tensors in data-offset order.</summary>
    public IReadOnlyList<SafetensorsTensorInfo> Tensors { get; }

    private SafetensorsReader(PinnedBytes bytes, string source)
    {
        _bytes = bytes;
        Source = source;
        try
        {
            (HeaderLength, Metadata, Tensors) = ParseHeader(bytes, source);
        }
        catch
        {
            bytes.Dispose();
            throw;
        }
        _byName = new Dictionary<string, SafetensorsTensorInfo>(Tensors.Count, StringComparer.Ordinal);
        foreach (var t in Tensors) _byName[t.Name] = t;
    }

    /// <summary>Memory-maps and validates <paramref name="path"/>.</summary>
    public static SafetensorsReader Open(string path)
    {
        PinnedBytes bytes;
        try
        {
            bytes = PinnedBytes.MapFile(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot open safetensors file: {e.Message}", inner: e);
        }
        return new SafetensorsReader(bytes, path);
    }

    /// <summary>Validates an in-memory safetensors image; <paramref name="source"/> names it in errors.</summary>
    public static SafetensorsReader FromBytes(byte[] data, string source = "<memory>")
    {
        ArgumentNullException.ThrowIfNull(data);
        return new SafetensorsReader(PinnedBytes.FromArray(data), source);
    }

    /// <summary>True when the file holds a tensor of that name.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Looks a tensor up by name.</summary>
    public bool TryGetInfo(string name, out SafetensorsTensorInfo info) => _byName.TryGetValue(name, out info!);

    /// <summary>Header entry of <paramref name="name"/>; a missing tensor is a format error naming it.</summary>
    public SafetensorsTensorInfo GetInfo(string name) =>
        _byName.TryGetValue(name, out var info) ? info : throw new ModelFormatException(Source, "tensor is missing", key: name);

    /// <summary>
    /// The tensor converted to fp32 (exact for F32 and BF16, exact for F16 too since every binary16 value is an fp32 value).
    /// Other dtypes are listed by the header but have no float meaning here, so they are rejected by name.
    /// </summary>
    public float[] ReadFloat32(string name)
    {
        var info = GetInfo(name);
        long count = info.ElementCount;
        if (count > Array.MaxLength)
            throw new ModelFormatException(Source, $"{count} elements exceed the largest array .NET can allocate", info.HeaderOffset, name);
        var result = new float[count];
        ReadFloat32(info, result);
        return result;
    }

    /// <summary>Converts the tensor into <paramref name="destination"/>, which must have exactly its element count.</summary>
    public void ReadFloat32(SafetensorsTensorInfo info, Span<float> destination)
    {
        if (!info.Dtype.IsFloatConvertible())
            throw new ModelFormatException(Source,
                $"dtype {info.Dtype} cannot be converted to float32 (only F32, F16 and BF16 can)", info.HeaderOffset, info.Name);
        if (destination.Length != info.ElementCount)
            throw new ArgumentException($"destination holds {destination.Length} floats, tensor '{info.Name}' has {info.ElementCount}", nameof(destination));
        int size = info.Dtype.Size();
        // Convert in chunks: a span over mapped memory is limited to int.MaxValue bytes, and a large tensor may exceed it.
        const int chunkElements = 1 << 20;
        long fileStart = DataOffset + info.Begin;
        for (int done = 0; done < destination.Length;)
        {
            int n = Math.Min(chunkElements, destination.Length - done);
            var src = _bytes.Span(fileStart + (long)done * size, n * size);
            var dst = destination.Slice(done, n);
            switch (info.Dtype)
            {
                case SafetensorsDtype.F32:
                    if (BitConverter.IsLittleEndian) MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                    else for (int i = 0; i < n; i++) dst[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                    break;
                case SafetensorsDtype.F16:
                    for (int i = 0; i < n; i++) dst[i] = SafetensorsDtypes.HalfToFloat(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                    break;
                default: // BF16
                    for (int i = 0; i < n; i++) dst[i] = SafetensorsDtypes.BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(src[(2 * i)..]));
                    break;
            }
            done += n;
        }
    }

    /// <summary>A copy of the tensor's raw little-endian bytes, whatever its dtype.</summary>
    public byte[] ReadRaw(string name)
    {
        var info = GetInfo(name);
        if (info.ByteLength > Array.MaxLength)
            throw new ModelFormatException(Source, $"{info.ByteLength} bytes exceed the largest array .NET can allocate", info.HeaderOffset, name);
        return _bytes.Span(DataOffset + info.Begin, (int)info.ByteLength).ToArray();
    }

    public void Dispose() => _bytes.Dispose();

    private static (long headerLength, IReadOnlyDictionary<string, string>? metadata, IReadOnlyList<SafetensorsTensorInfo> tensors)
        ParseHeader(PinnedBytes bytes, string source)
    {
        long fileLength = bytes.Length;
        if (fileLength < 8)
            throw new ModelFormatException(source, $"file is {fileLength} bytes, shorter than the 8-byte header length field", 0);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes.Span(0, 8));
        if (n > MaxHeaderSize)
            throw new ModelFormatException(source, $"header length {n} exceeds the {MaxHeaderSize}-byte limit", 0);
        long headerLength = (long)n;
        if (headerLength > fileLength - 8)
            throw new ModelFormatException(source, $"header length {headerLength} runs past the end of the {fileLength}-byte file", 0);
        long dataLength = fileLength - 8 - headerLength;
        var header = bytes.Span(8, (int)headerLength);

        if (!Utf8.IsValid(header))
        {
            // Find the first bad byte so the message can point at it.
            var scratch = ArrayPool<char>.Shared.Rent(Math.Max(16, header.Length));
            try
            {
                Utf8.ToUtf16(header, scratch, out int read, out _, replaceInvalidSequences: false);
                throw new ModelFormatException(source, "header is not valid UTF-8", 8 + read);
            }
            finally
            {
                ArrayPool<char>.Shared.Return(scratch);
            }
        }

        var tensors = new List<SafetensorsTensorInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        Dictionary<string, string>? metadata = null;
        var reader = new Utf8JsonReader(header, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 16 });
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new ModelFormatException(source, "header must be a JSON object", 8 + reader.TokenStartIndex);
            while (true)
            {
                if (!reader.Read()) throw new ModelFormatException(source, "header JSON ends early", 8 + reader.BytesConsumed);
                if (reader.TokenType == JsonTokenType.EndObject) break;
                long entryOffset = 8 + reader.TokenStartIndex;
                string name = reader.GetString()!;
                if (!names.Add(name)) throw new ModelFormatException(source, "name appears twice in the header", entryOffset, name);
                reader.Read();
                if (name == "__metadata__")
                {
                    metadata = ReadMetadata(ref reader, source, entryOffset);
                    continue;
                }
                tensors.Add(ReadTensorEntry(ref reader, source, name, entryOffset, dataLength));
            }
            // Anything but whitespace after the object is an error (Read throws on it).
            if (reader.Read())
                throw new ModelFormatException(source, "unexpected content after the header object", 8 + reader.TokenStartIndex);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ModelFormatException(source, $"header is not valid JSON: {e.Message}", 8 + reader.BytesConsumed, inner: e);
        }

        // The reference sorts by (begin, end) and requires the tensors to tile [0, dataLength) exactly.
        tensors.Sort((a, b) => a.Begin != b.Begin ? a.Begin.CompareTo(b.Begin) : a.End.CompareTo(b.End));
        long expectedStart = 0;
        SafetensorsTensorInfo? previous = null;
        foreach (var t in tensors)
        {
            if (t.Begin < expectedStart)
                throw new ModelFormatException(source,
                    $"data_offsets [{t.Begin}, {t.End}) overlap tensor '{previous!.Name}' [{previous.Begin}, {previous.End})", t.HeaderOffset, t.Name);
            if (t.Begin > expectedStart)
                throw new ModelFormatException(source,
                    $"data_offsets start at {t.Begin} but the previous tensor ends at {expectedStart}; tensors must cover the data section without gaps",
                    t.HeaderOffset, t.Name);
            expectedStart = t.End;
            previous = t;
        }
        if (expectedStart != dataLength)
            throw new ModelFormatException(source,
                $"tensors cover {expectedStart} bytes of data but the data section holds {dataLength}; the last tensor must end at the end of the file",
                8 + headerLength + expectedStart, previous?.Name);
        return (headerLength, metadata, tensors);
    }

    private static Dictionary<string, string>? ReadMetadata(ref Utf8JsonReader reader, string source, long entryOffset)
    {
        if (reader.TokenType == JsonTokenType.Null) return null;
        if (reader.TokenType != JsonTokenType.StartObject)
            throw new ModelFormatException(source, "__metadata__ must be an object of strings", entryOffset, "__metadata__");
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            long keyOffset = 8 + reader.TokenStartIndex;
            string key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
                throw new ModelFormatException(source, $"__metadata__ value must be a string, got {reader.TokenType}", keyOffset, $"__metadata__.{key}");
            if (!metadata.TryAdd(key, reader.GetString()!))
                throw new ModelFormatException(source, "metadata key appears twice", keyOffset, $"__metadata__.{key}");
        }
        return metadata;
    }

    private static SafetensorsTensorInfo ReadTensorEntry(ref Utf8JsonReader reader, string source, string name, long entryOffset, long dataLength)
    {
        void Fail(string problem, long? at = null) => throw new ModelFormatException(source, problem, at ?? entryOffset, name);
        if (reader.TokenType != JsonTokenType.StartObject) Fail($"tensor entry must be an object, got {reader.TokenType}");
        SafetensorsDtype? dtype = null;
        long[]? shape = null;
        long[]? offsets = null;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
        {
            long fieldOffset = 8 + reader.TokenStartIndex;
            string field = reader.GetString()!;
            reader.Read();
            switch (field)
            {
                case "dtype":
                    if (dtype is not null) Fail("field 'dtype' appears twice", fieldOffset);
                    if (reader.TokenType != JsonTokenType.String) Fail($"dtype must be a string, got {reader.TokenType}", fieldOffset);
                    var text = reader.GetString()!;
                    if (!SafetensorsDtypes.TryParse(text, out var d)) Fail($"unknown dtype '{text}'", fieldOffset);
                    dtype = d;
                    break;
                case "shape":
                    if (shape is not null) Fail("field 'shape' appears twice", fieldOffset);
                    shape = ReadIntegerArray(ref reader, source, name, "shape", fieldOffset, maxCount: 64);
                    break;
                case "data_offsets":
                    if (offsets is not null) Fail("field 'data_offsets' appears twice", fieldOffset);
                    offsets = ReadIntegerArray(ref reader, source, name, "data_offsets", fieldOffset, maxCount: 2);
                    if (offsets.Length != 2) Fail($"data_offsets must hold exactly 2 numbers, got {offsets.Length}", fieldOffset);
                    break;
                default:
                    reader.Skip(); // the reference ignores unknown fields
                    break;
            }
        }
        if (dtype is null) Fail("tensor entry has no 'dtype'");
        if (shape is null) Fail("tensor entry has no 'shape'");
        if (offsets is null) Fail("tensor entry has no 'data_offsets'");
        long begin = offsets![0], end = offsets[1];
        if (end < begin) Fail($"data_offsets [{begin}, {end}) end before they begin");
        if (end > dataLength) Fail($"data_offsets [{begin}, {end}) run past the {dataLength}-byte data section");
        long count = 1;
        foreach (var dim in shape!)
        {
            if (dim != 0 && count > long.MaxValue / dim) Fail($"shape {SafetensorsTensorInfo.FormatShape(shape)} overflows a 64-bit element count");
            count *= dim;
        }
        int size = dtype!.Value.Size();
        if (count > long.MaxValue / size) Fail($"shape {SafetensorsTensorInfo.FormatShape(shape)} of {dtype} overflows a 64-bit byte count");
        if (end - begin != count * size)
            Fail($"data_offsets [{begin}, {end}) hold {end - begin} bytes but shape {SafetensorsTensorInfo.FormatShape(shape)} of {dtype} needs {count * size}");
        return new SafetensorsTensorInfo(name, dtype.Value, shape, begin, end, entryOffset);
    }

    private static long[] ReadIntegerArray(ref Utf8JsonReader reader, string source, string name, string field, long fieldOffset, int maxCount)
    {
        if (reader.TokenType != JsonTokenType.StartArray)
            throw new ModelFormatException(source, $"{field} must be an array of non-negative integers, got {reader.TokenType}", fieldOffset, name);
        var values = new List<long>();
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            long at = 8 + reader.TokenStartIndex;
            if (reader.TokenType != JsonTokenType.Number || !reader.TryGetInt64(out long v))
                throw new ModelFormatException(source, $"{field} must hold integers, got {Describe(ref reader)}", at, name);
            if (v < 0) throw new ModelFormatException(source, $"{field} holds negative value {v}", at, name);
            if (values.Count == maxCount) throw new ModelFormatException(source, $"{field} holds more than {maxCount} values", at, name);
            values.Add(v);
        }
        return values.ToArray();
    }

    private static string Describe(ref Utf8JsonReader reader) =>
        reader.TokenType == JsonTokenType.Number ? $"'{Encoding.UTF8.GetString(reader.ValueSpan)}'" : reader.TokenType.ToString();
}
