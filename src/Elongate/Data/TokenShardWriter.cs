using Elongate.Common;
using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace Elongate.Data;

/// <summary>
/// Streams documents into a <see cref="TokenShard"/> file: tokens go straight to a temp file, only the document
/// offsets stay in memory, and the file is renamed into place by <see cref="Complete"/> (a crash leaves no shard).
/// </summary>
public sealed class TokenShardWriter : IDisposable
{
    private readonly AtomicFile.Pending _file;
    private readonly FileStream _stream;
    private readonly int _width, _vocab;
    private readonly List<long> _starts = [0];
    private long _tokens;
    private bool _done;

    public TokenShardWriter(string path, int vocabSize)
    {
        if (vocabSize <= 0) throw new ArgumentOutOfRangeException(nameof(vocabSize));
        _file = AtomicFile.Create(path);
        _stream = _file.Stream;
        _vocab = vocabSize;
        _width = vocabSize <= ushort.MaxValue + 1 ? 2 : 4;
        _stream.Write(new byte[TokenShard.HeaderBytes]);
    }

    public int DocumentCount => _starts.Count - 1;
    public long TokenCount => _tokens;

    /// <summary>Appends one document.</summary>
    public void Add(ReadOnlySpan<int> tokens)
    {
        ObjectDisposedException.ThrowIf(_done, this);
        foreach (var t in tokens)
            if ((uint)t >= (uint)_vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token {t} is outside the vocabulary of {_vocab}");
        if (_width == 4)
            _stream.Write(MemoryMarshal.AsBytes(tokens));
        else
        {
            var buf = new ushort[tokens.Length];
            for (int i = 0; i < tokens.Length; i++) buf[i] = (ushort)tokens[i];
            _stream.Write(MemoryMarshal.AsBytes(buf.AsSpan()));
        }
        _tokens += tokens.Length;
        _starts.Add(_tokens);
    }

    /// <summary>Writes the index and header and renames the file into place.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _stream.Write(MemoryMarshal.AsBytes(CollectionsMarshal.AsSpan(_starts)));
        Span<byte> h = stackalloc byte[TokenShard.HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(h, TokenShard.Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(h[4..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[8..], (uint)_width);
        BinaryPrimitives.WriteUInt32LittleEndian(h[12..], (uint)_vocab);
        BinaryPrimitives.WriteInt64LittleEndian(h[16..], DocumentCount);
        BinaryPrimitives.WriteInt64LittleEndian(h[24..], _tokens);
        _stream.Position = 0;
        _stream.Write(h);
        _file.Commit();
        _done = true;
    }

    /// <summary>Abandons an incomplete shard, deleting the temp file.</summary>
    public void Dispose()
    {
        if (_done) return;
        _done = true;
        _file.Dispose();
    }
}
