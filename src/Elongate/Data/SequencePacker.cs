namespace Elongate.Data;

/// <summary>
/// Packs the documents of a shard into fixed-length training sequences, Llama-style: documents (each already
/// holding BOS/EOS) are concatenated in a seeded shuffled order and cut into windows of T + 1 tokens (inputs are the
/// first T, targets the last T); the next window starts where the previous one's targets ended, so no token is
/// lost or repeated. Each token also carries the index of the document it came from, for optional document-boundary
/// masking in attention (off by default, like Llama 2). Documents longer than a threshold can be upsampled. Each
/// epoch reshuffles with the seed and the epoch number. With a chunk size, long documents are shuffled as chunks of
/// that many tokens rather than whole: a corpus of a few books then mixes them within an epoch instead of walking
/// through one book at a time (each chunk counts as its own document for boundary masking).
/// </summary>
public sealed class SequencePacker
{
    private readonly TokenShard _shard;
    private readonly int _length;
    private readonly ulong _seed;
    private readonly int _upsampleThreshold, _upsampleFactor, _chunkTokens;
    private (int Doc, int Start, int End)[] _order = [];
    private int _epoch, _orderIndex, _offset;
    private int _segmentCounter;

    /// <param name="shard">Source of documents.</param>
    /// <param name="sequenceLength">T: tokens of input per sequence.</param>
    /// <param name="seed">Shuffle seed.</param>
    /// <param name="upsampleThreshold">Documents with more tokens than this are repeated <paramref name="upsampleFactor"/> times per epoch (0 = off).</param>
    /// <param name="chunkTokens">Shuffle documents in pieces of this many tokens (0 = whole documents).</param>
    public SequencePacker(TokenShard shard, int sequenceLength, ulong seed, int upsampleThreshold = 0, int upsampleFactor = 1, int chunkTokens = 0)
    {
        if (chunkTokens < 0) throw new ArgumentOutOfRangeException(nameof(chunkTokens));
        _chunkTokens = chunkTokens;
        if (sequenceLength < 1) throw new ArgumentOutOfRangeException(nameof(sequenceLength));
        if (upsampleFactor < 1) throw new ArgumentOutOfRangeException(nameof(upsampleFactor));
        if (shard.TokenCount < 2) throw new ArgumentException($"{shard.Path} holds {shard.TokenCount} tokens; packing needs at least 2");
        _shard = shard;
        _length = sequenceLength;
        _seed = seed;
        _upsampleThreshold = upsampleThreshold;
        _upsampleFactor = upsampleFactor;
        Restore(new SequencePackerState(0, 0, 0));
    }

    public int SequenceLength => _length;

    /// <summary>The position to save in a checkpoint.</summary>
    public SequencePackerState State => new(_epoch, _orderIndex, _offset);

    /// <summary>Continues from a saved position.</summary>
    public void Restore(SequencePackerState state)
    {
        _epoch = state.Epoch;
        _order = BuildOrder(_epoch);
        if (state.OrderIndex < 0 || state.OrderIndex > _order.Length) throw new ArgumentException($"packer state {state} does not fit {_shard.Path}");
        _orderIndex = state.OrderIndex;
        _offset = state.Offset;
    }

    private (int Doc, int Start, int End)[] BuildOrder(int epoch)
    {
        var order = new List<(int, int, int)>(_shard.DocumentCount);
        for (int d = 0; d < _shard.DocumentCount; d++)
        {
            int length = _shard.DocumentLength(d);
            int repeats = _upsampleThreshold > 0 && length > _upsampleThreshold ? _upsampleFactor : 1;
            int chunk = _chunkTokens > 0 ? _chunkTokens : Math.Max(length, 1);
            for (int r = 0; r < repeats; r++)
                for (int start = 0; start < length; start += chunk) order.Add((d, start, Math.Min(length, start + chunk)));
        }
        var arr = order.ToArray();
        var rng = new SplitMix64(_seed ^ (0x9E37UL * (ulong)(epoch + 1)));
        rng.Shuffle(arr.AsSpan());
        return arr;
    }

    /// <summary>
    /// Fills <paramref name="tokens"/> (T + 1) and <paramref name="segments"/> (T + 1, document ordinal per token)
    /// with the next sequence. The last token of a window is the first of the next.
    /// </summary>
    public void Next(Span<int> tokens, Span<int> segments)
    {
        if (tokens.Length != _length + 1 || segments.Length != _length + 1)
            throw new ArgumentException($"buffers must hold T + 1 = {_length + 1} tokens");
        int filled = 0;
        while (filled < tokens.Length)
        {
            if (_orderIndex >= _order.Length)
            {
                _epoch++;
                _order = BuildOrder(_epoch);
                _orderIndex = 0;
                _offset = 0;
            }
            var (doc, start, end) = _order[_orderIndex];
            int available = end - start - _offset;
            int take = Math.Min(available, tokens.Length - filled);
            if (take > 0)
            {
                _shard.ReadDocument(doc, start + _offset, tokens.Slice(filled, take));
                segments.Slice(filled, take).Fill(_segmentCounter);
                filled += take;
                _offset += take;
            }
            if (_offset >= end - start)
            {
                _orderIndex++;
                _offset = 0;
                _segmentCounter++;
            }
        }
        // Step back one token so the next window's first input is this window's last target.
        if (_offset > 0) _offset--;
        else
        {
            // The window ended exactly at a document end: re-read that document's last token next time.
            _orderIndex--;
            _segmentCounter--;
            var (_, start, end) = _order[_orderIndex];
            _offset = end - start - 1;
        }
    }
}
