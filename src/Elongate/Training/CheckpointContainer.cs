using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Elongate.Common;

namespace Elongate.Training;

/// <summary>
/// The file layout both checkpoint kinds share (little-endian): a 4-byte magic, uint32 version 1, int64 n, n bytes of
/// UTF-8 JSON state, int64 p, then p floats each of parameters, first moments and second moments. Written to a temp
/// file and renamed, so a crash leaves the previous checkpoint whole; read back with every length checked against the
/// file's size before anything is allocated.
/// </summary>
internal static class CheckpointContainer
{
    /// <summary>Bytes before the JSON.</summary>
    public const int HeaderBytes = 16;

    /// <summary>Writes the container atomically; <paramref name="afterParameters"/> is a test hook to simulate a crash mid-write.</summary>
    public static void Write(string path, uint magic, byte[] json, ReadOnlyMemory<float> parameters, ReadOnlyMemory<float> first,
        ReadOnlyMemory<float> second, Action? afterParameters)
    {
        if (first.Length != parameters.Length || second.Length != parameters.Length) throw new ArgumentException("moments and parameters differ in length");
        AtomicFile.Write(path, s =>
        {
            Span<byte> h = stackalloc byte[HeaderBytes];
            BinaryPrimitives.WriteUInt32LittleEndian(h, magic);
            BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 1);
            BinaryPrimitives.WriteInt64LittleEndian(h[8..], json.Length);
            s.Write(h);
            s.Write(json);
            Span<byte> count = stackalloc byte[8];
            BinaryPrimitives.WriteInt64LittleEndian(count, parameters.Length);
            s.Write(count);
            s.Write(MemoryMarshal.AsBytes(parameters.Span));
            afterParameters?.Invoke();
            s.Write(MemoryMarshal.AsBytes(first.Span));
            s.Write(MemoryMarshal.AsBytes(second.Span));
        });
    }

    /// <summary>Reads the header and JSON; returns the JSON and the parameter count, the stream left at the tensors.</summary>
    /// <exception cref="ModelFormatException">Wrong magic or version, or lengths that do not fill the file exactly.</exception>
    public static (byte[] Json, long Count) ReadHeader(Stream f, string path, uint magic, string kind)
    {
        long length = f.Length;
        Span<byte> h = stackalloc byte[HeaderBytes];
        if (length < HeaderBytes + 8 || f.ReadAtLeast(h, HeaderBytes, false) != HeaderBytes)
            throw new ModelFormatException(path, $"file has {length} bytes, too few for a checkpoint", 0);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != magic) throw new ModelFormatException(path, $"not an Elongate {kind} checkpoint (bad magic)", 0);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        if (version != 1) throw new ModelFormatException(path, $"unsupported checkpoint version {version}", 4);
        long jsonLength = BinaryPrimitives.ReadInt64LittleEndian(h[8..]);
        if (jsonLength <= 0 || jsonLength > length - HeaderBytes - 8 || jsonLength > Array.MaxLength)
            throw new ModelFormatException(path, $"state length {jsonLength} does not fit the file of {length} bytes", 8);
        var json = new byte[jsonLength];
        f.ReadExactly(json);
        Span<byte> countBytes = stackalloc byte[8];
        f.ReadExactly(countBytes);
        long count = BinaryPrimitives.ReadInt64LittleEndian(countBytes);
        if (count <= 0 || count > Array.MaxLength || HeaderBytes + jsonLength + 8 + count * 12 != length)
            throw new ModelFormatException(path,
                $"{count} parameters need a file of {HeaderBytes + jsonLength + 8 + Math.Max(0, count) * 12} bytes, found {length} (truncated or not a checkpoint)",
                HeaderBytes + jsonLength);
        return (json, count);
    }

    /// <summary>The three float arrays that follow the header.</summary>
    public static (float[] Parameters, float[] First, float[] Second) ReadTensors(Stream f, long count)
    {
        float[] Read()
        {
            var a = new float[count];
            f.ReadExactly(MemoryMarshal.AsBytes(a.AsSpan()));
            return a;
        }
        return (Read(), Read(), Read());
    }
}
