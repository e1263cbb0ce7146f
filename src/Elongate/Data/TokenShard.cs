using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Elongate.Common;

namespace Elongate.Data;

/// <summary>
/// A file of tokenized documents, read through a memory map so a corpus larger than RAM streams from disk.
/// Layout (little-endian): magic "ELTK", uint32 version 1, uint32 bytes per token (2 or 4), uint32 vocab size,
/// int64 document count, int64 token count, then the tokens, then (count + 1) int64 document start offsets in tokens.
/// Written by <see cref="TokenShardWriter"/>.
/// </summary>
public sealed class TokenShard : IDisposable
{
    internal const uint Magic = 0x4B544C45; // "ELTK"
    internal const int HeaderBytes = 32;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly long[] _starts;
    private readonly int _width;

    public string Path { get; }
    public int VocabSize { get; }
    public int DocumentCount => _starts.Length - 1;
    public long TokenCount => _starts[^1];

    private TokenShard(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, long[] starts, int width, int vocab)
    {
        Path = path; _map = map; _view = view; _starts = starts; _width = width; VocabSize = vocab;
    }

    /// <summary>Opens and validates a shard.</summary>
    public static TokenShard Open(string path)
    {
        long length = new FileInfo(path).Length;
        if (length < HeaderBytes) throw new ModelFormatException(path, $"file has {length} bytes, fewer than the {HeaderBytes}-byte shard header", 0);
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        try
        {
            Span<byte> h = stackalloc byte[HeaderBytes];
            for (int i = 0; i < HeaderBytes; i++) h[i] = view.ReadByte(i);
            if (BinaryPrimitives.ReadUInt32LittleEndian(h) != Magic) throw new ModelFormatException(path, "not a token shard (bad magic)", 0);
            uint version = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
            if (version != 1) throw new ModelFormatException(path, $"unsupported shard version {version}", 4);
            int width = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[8..]);
            if (width is not (2 or 4)) throw new ModelFormatException(path, $"token width {width} must be 2 or 4 bytes", 8);
            int vocab = (int)BinaryPrimitives.ReadUInt32LittleEndian(h[12..]);
            long docs = BinaryPrimitives.ReadInt64LittleEndian(h[16..]);
            long tokens = BinaryPrimitives.ReadInt64LittleEndian(h[24..]);
            if (docs < 0 || tokens < 0 || tokens > (length - HeaderBytes) / width || docs > (length - HeaderBytes) / 8)
                throw new ModelFormatException(path, $"header counts ({docs} documents, {tokens} tokens) do not fit the file of {length} bytes", 16);
            long expected = HeaderBytes + tokens * width + (docs + 1) * 8;
            if (expected != length) throw new ModelFormatException(path, $"file has {length} bytes, header implies {expected}", 16);
            var starts = new long[docs + 1];
            view.ReadArray(HeaderBytes + tokens * width, starts, 0, starts.Length);
            if (starts[0] != 0 || starts[^1] != tokens)
                throw new ModelFormatException(path, "document index does not span the tokens", HeaderBytes + tokens * width);
            for (long d = 0; d < docs; d++)
                if (starts[d + 1] < starts[d]) throw new ModelFormatException(path, $"document {d} has a negative length in the index", HeaderBytes + tokens * width + d * 8);
            return new TokenShard(path, map, view, starts, width, vocab);
        }
        catch
        {
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    /// <summary>Length of document <paramref name="index"/> in tokens.</summary>
    public int DocumentLength(int index) => checked((int)(_starts[index + 1] - _starts[index]));

    /// <summary>Copies tokens [offset, offset + destination.Length) of document <paramref name="index"/>.</summary>
    public void ReadDocument(int index, int offset, Span<int> destination)
    {
        int len = DocumentLength(index);
        if (offset < 0 || offset + destination.Length > len) throw new ArgumentOutOfRangeException(nameof(offset), $"document {index} has {len} tokens");
        long at = HeaderBytes + (_starts[index] + offset) * _width;
        if (_width == 4)
        {
            _view.ReadArray(at, _scratch4 = Grow(_scratch4, destination.Length), 0, destination.Length);
            _scratch4.AsSpan(0, destination.Length).CopyTo(destination);
        }
        else
        {
            _view.ReadArray(at, _scratch2 = Grow(_scratch2, destination.Length), 0, destination.Length);
            for (int i = 0; i < destination.Length; i++) destination[i] = _scratch2[i];
        }
    }

    /// <summary>The whole of document <paramref name="index"/>.</summary>
    public int[] ReadDocument(int index)
    {
        var a = new int[DocumentLength(index)];
        ReadDocument(index, 0, a);
        return a;
    }

    private int[] _scratch4 = [];
    private ushort[] _scratch2 = [];
    private static T[] Grow<T>(T[] a, int n) => a.Length >= n ? a : new T[Math.Max(n, a.Length * 2)];

    public void Dispose()
    {
        _view.Dispose();
        _map.Dispose();
    }
}
