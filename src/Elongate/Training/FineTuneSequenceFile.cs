using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Elongate.Common;
using Elongate.Data;

namespace Elongate.Training;

/// <summary>
/// The fine-tuning sequences of a run, saved once in its folder so <c>--resume</c> continues on exactly the same data
/// whatever happens to the JSON Lines files later. Layout (little-endian): "ELFS", uint32 version 1, int32 count,
/// int32 T, then per sequence T int32 inputs, T int32 targets, T int32 segments. 12 bytes per token.
/// </summary>
public static class FineTuneSequenceFile
{
    private const uint Magic = 0x53464C45; // "ELFS"
    private const int HeaderBytes = 16;

    /// <summary>Writes <paramref name="sequences"/> atomically and returns the SHA-256 of the file (hex).</summary>
    public static string Write(string path, IReadOnlyList<FineTuneSequence> sequences, int seqLen)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AtomicFile.Write(path, s => Emit(s, sha, sequences, seqLen));
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>The SHA-256 (hex) that <see cref="Write"/> would return, without writing (data-parallel ranks other than 0).</summary>
    public static string Sha256Of(IReadOnlyList<FineTuneSequence> sequences, int seqLen)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Emit(Stream.Null, sha, sequences, seqLen);
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static void Emit(Stream s, IncrementalHash sha, IReadOnlyList<FineTuneSequence> sequences, int seqLen)
    {
        Span<byte> h = stackalloc byte[HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(h, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 1);
        BinaryPrimitives.WriteInt32LittleEndian(h[8..], sequences.Count);
        BinaryPrimitives.WriteInt32LittleEndian(h[12..], seqLen);
        s.Write(h);
        sha.AppendData(h);
        foreach (var q in sequences)
            foreach (var a in new[] { q.Inputs, q.Targets, q.Segments })
            {
                if (a.Length != seqLen) throw new ArgumentException($"a sequence of {a.Length} tokens among sequences of {seqLen}");
                var bytes = BitConverter.IsLittleEndian ? MemoryMarshal.AsBytes(a.AsSpan()) : throw new PlatformNotSupportedException("big-endian hosts");
                s.Write(bytes);
                sha.AppendData(bytes);
            }
    }

    /// <summary>Reads a file written by <see cref="Write"/>; returns the sequences, T and the file's SHA-256.</summary>
    /// <exception cref="ModelFormatException">Not such a file, or truncated.</exception>
    public static (List<FineTuneSequence> Sequences, int SeqLen, string Sha256) Read(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "the run's fine-tuning sequences are missing");
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < HeaderBytes || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic)
            throw new ModelFormatException(path, "not an Elongate fine-tuning sequence file", 0);
        if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)) != 1) throw new ModelFormatException(path, "unsupported version", 4);
        int count = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)), seqLen = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        if (count < 0 || seqLen < 1 || HeaderBytes + 12L * count * seqLen != bytes.Length)
            throw new ModelFormatException(path, $"{count} sequences of {seqLen} tokens do not fill {bytes.Length} bytes (truncated?)", 8);
        var list = new List<FineTuneSequence>(count);
        var ints = MemoryMarshal.Cast<byte, int>(bytes.AsSpan(HeaderBytes));
        for (int i = 0; i < count; i++)
        {
            var at = ints.Slice(3 * i * seqLen);
            list.Add(new FineTuneSequence(at[..seqLen].ToArray(), at.Slice(seqLen, seqLen).ToArray(), at.Slice(2 * seqLen, seqLen).ToArray()));
        }
        return (list, seqLen, Convert.ToHexStringLower(SHA256.HashData(bytes)));
    }
}
