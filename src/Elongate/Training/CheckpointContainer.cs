using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Elongate.Common;

namespace Elongate.Training;

/// <summary>
/// The file layout both checkpoint kinds share (little-endian): a 4-byte magic, uint32 version, int64 n, n bytes of
/// UTF-8 JSON state, int64 p, then p floats each of parameters, first moments and second moments, and (version 2) a
/// 32-byte trailer of four XXH3-64 checksums: of the header + state + count, of the parameters, of the first and of the
/// second moments. Written to a temp file and renamed, so a crash leaves the previous checkpoint whole; read back with
/// every length checked against the file's size before anything is allocated, and every section checked against its
/// checksum, so a flipped bit anywhere (disk, copy, transfer) is an error naming the file and the section instead of
/// a run that resumes from silently damaged weights. Version 1 files (no trailer) are still read, unverified.
/// </summary>
/// <remarks>
/// XXH3 (System.IO.Hashing) rather than SHA-256: it detects random corruption as well as any 64-bit hash while running
/// at memory speed, so verifying a 1 GiB checkpoint costs a fraction of reading it. It is not meant to resist tampering.
/// </remarks>
internal static class CheckpointContainer
{
    /// <summary>Bytes before the JSON.</summary>
    public const int HeaderBytes = 16;

    /// <summary>Bytes of the version-2 checksum trailer.</summary>
    public const int TrailerBytes = 32;

    private const uint CurrentVersion = 2;

    private static readonly string[] SectionNames = ["header and state", "parameters", "first moments", "second moments"];

    /// <summary>Writes the container atomically; <paramref name="afterParameters"/> is a test hook to simulate a crash mid-write.</summary>
    public static void Write(string path, uint magic, byte[] json, ReadOnlyMemory<float> parameters, ReadOnlyMemory<float> first,
        ReadOnlyMemory<float> second, Action? afterParameters)
    {
        if (first.Length != parameters.Length || second.Length != parameters.Length) throw new ArgumentException("moments and parameters differ in length");
        AtomicFile.Write(path, s =>
        {
            var head = new byte[HeaderBytes + json.Length + 8];
            BinaryPrimitives.WriteUInt32LittleEndian(head, magic);
            BinaryPrimitives.WriteUInt32LittleEndian(head.AsSpan(4), CurrentVersion);
            BinaryPrimitives.WriteInt64LittleEndian(head.AsSpan(8), json.Length);
            json.CopyTo(head, HeaderBytes);
            BinaryPrimitives.WriteInt64LittleEndian(head.AsSpan(HeaderBytes + json.Length), parameters.Length);
            Span<byte> trailer = stackalloc byte[TrailerBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(trailer, XxHash3.HashToUInt64(head));
            s.Write(head);
            int section = 1;
            foreach (var tensor in new[] { parameters, first, second })
            {
                var bytes = MemoryMarshal.AsBytes(tensor.Span);
                BinaryPrimitives.WriteUInt64LittleEndian(trailer[(8 * section++)..], XxHash3.HashToUInt64(bytes));
                s.Write(bytes);
                if (section == 2) afterParameters?.Invoke();
            }
            s.Write(trailer);
        });
    }

    /// <summary>A container's layout once its header is read: where the tensors start, how many, and its checksums (null for version 1).</summary>
    public sealed record Layout(byte[] Json, long Count, ulong[]? Checksums);

    /// <summary>
    /// Reads the header and JSON and verifies the state's checksum; returns the JSON, the parameter count and the
    /// tensors' checksums, the stream left at the tensors.
    /// </summary>
    /// <exception cref="ModelFormatException">Wrong magic or version, lengths that do not fill the file exactly, or a checksum mismatch.</exception>
    public static Layout ReadHeader(Stream f, string path, uint magic, string kind)
    {
        long length = f.Length;
        Span<byte> h = stackalloc byte[HeaderBytes];
        if (length < HeaderBytes + 8 || f.ReadAtLeast(h, HeaderBytes, false) != HeaderBytes)
            throw new ModelFormatException(path, $"file has {length} bytes, too few for a checkpoint", 0);
        if (BinaryPrimitives.ReadUInt32LittleEndian(h) != magic) throw new ModelFormatException(path, $"not an Elongate {kind} checkpoint (bad magic)", 0);
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        if (version is not (1 or CurrentVersion)) throw new ModelFormatException(path, $"unsupported checkpoint version {version}", 4);
        int trailer = version == CurrentVersion ? TrailerBytes : 0;
        long jsonLength = BinaryPrimitives.ReadInt64LittleEndian(h[8..]);
        if (jsonLength <= 0 || jsonLength > length - HeaderBytes - 8 - trailer || jsonLength > Array.MaxLength - HeaderBytes - 8)
            throw new ModelFormatException(path, $"state length {jsonLength} does not fit the file of {length} bytes", 8);
        var head = new byte[HeaderBytes + jsonLength + 8];
        h.CopyTo(head);
        f.ReadExactly(head.AsSpan(HeaderBytes));
        var json = head.AsSpan(HeaderBytes, (int)jsonLength).ToArray();
        long count = BinaryPrimitives.ReadInt64LittleEndian(head.AsSpan(HeaderBytes + (int)jsonLength));
        if (count <= 0 || count > Array.MaxLength || HeaderBytes + jsonLength + 8 + count * 12 + trailer != length)
            throw new ModelFormatException(path,
                $"{count} parameters need a file of {HeaderBytes + jsonLength + 8 + Math.Max(0, count) * 12 + trailer} bytes, found {length} (truncated or not a checkpoint)",
                HeaderBytes + jsonLength);
        if (trailer == 0) return new Layout(json, count, null);
        long tensors = f.Position;
        var sums = new ulong[4];
        Span<byte> t = stackalloc byte[TrailerBytes];
        f.Position = length - TrailerBytes;
        f.ReadExactly(t);
        f.Position = tensors;
        for (int i = 0; i < 4; i++) sums[i] = BinaryPrimitives.ReadUInt64LittleEndian(t[(8 * i)..]);
        Verify(path, 0, XxHash3.HashToUInt64(head), sums[0], 0);
        return new Layout(json, count, sums);
    }

    /// <summary>The three float arrays that follow the header, each verified against its checksum (version 2).</summary>
    /// <exception cref="ModelFormatException">A section's bytes do not match its checksum.</exception>
    public static (float[] Parameters, float[] First, float[] Second) ReadTensors(Stream f, Layout layout, string path)
    {
        int section = 1;
        float[] Read()
        {
            long offset = f.Position;
            var a = new float[layout.Count];
            var bytes = MemoryMarshal.AsBytes(a.AsSpan());
            f.ReadExactly(bytes);
            if (layout.Checksums is { } sums) Verify(path, section, XxHash3.HashToUInt64(bytes), sums[section], offset);
            section++;
            return a;
        }
        return (Read(), Read(), Read());
    }

    private static void Verify(string path, int section, ulong actual, ulong expected, long offset)
    {
        if (actual != expected)
            throw new ModelFormatException(path,
                $"checksum mismatch in the {SectionNames[section]} (section starting at byte {offset}): the file is damaged; resume from an earlier copy or restart the run",
                offset);
    }
}
