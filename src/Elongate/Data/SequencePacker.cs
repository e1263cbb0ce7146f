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
/// <para>With <c>wholeDocuments</c>, a document that fits in a window is never cut across two: when it does not fit
/// in what is left of the current window, the rest of that window is padding (no loss: <see cref="Next"/> returns
/// how many tokens are real) and the document opens the next one. That is what synthetic retrieval documents need:
/// cut across two windows, the question would sit in one and its fact in the other, and the model would learn to
/// guess an answer instead of copying it. Documents longer than a window are still cut, as above.</para>
/// </summary>
public sealed class SequencePacker
{
    private readonly TokenShard _shard;
    private readonly int _length;
    private readonly ulong _seed;
    private readonly int _upsampleThreshold, _upsampleFactor, _chunkTokens;
    private readonly bool _wholeDocuments;
    private readonly int[]? _lossTails;
    private (int Doc, int Start, int End)[] _order = [];
    private int _epoch, _orderIndex, _offset;
    private int _segmentCounter;

    /// <param name="shard">Source of documents.</param>
    /// <param name="sequenceLength">T: tokens of input per sequence.</param>
    /// <param name="seed">Shuffle seed.</param>
    /// <param name="upsampleThreshold">Documents with more tokens than this are repeated <paramref name="upsampleFactor"/> times per epoch (0 = off).</param>
    /// <param name="chunkTokens">Shuffle documents in pieces of this many tokens (0 = whole documents).</param>
    /// <param name="wholeDocuments">Never cut a document that fits in a window; pad the window's rest instead.</param>
    /// <param name="lossTails">Per document, how many of its last tokens carry loss (<see cref="LossTails"/>); null: all of them.</param>
    public SequencePacker(TokenShard shard, int sequenceLength, ulong seed, int upsampleThreshold = 0, int upsampleFactor = 1, int chunkTokens = 0,
        bool wholeDocuments = false, int[]? lossTails = null)
    {
        if (lossTails is not null && lossTails.Length != shard.DocumentCount)
            throw new ArgumentException($"{lossTails.Length} loss tails for the {shard.DocumentCount} documents of {shard.Path}");
        _wholeDocuments = wholeDocuments;
        _lossTails = lossTails;
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
    /// with the next sequence and returns how many of its tokens are real: T + 1, except with whole documents, where
    /// the tokens from the returned count on are padding (token 0, a segment of their own) that must get no loss.
    /// Without whole documents the last token of a window is the first of the next. <paramref name="noLoss"/>, when
    /// given (T + 1), is set for every token that must get no loss as a target: padding, and with loss tails every
    /// token before its document's tail.
    /// </summary>
    public int Next(Span<int> tokens, Span<int> segments, Span<bool> noLoss = default)
    {
        if (tokens.Length != _length + 1 || segments.Length != _length + 1 || (!noLoss.IsEmpty && noLoss.Length != _length + 1))
            throw new ArgumentException($"buffers must hold T + 1 = {_length + 1} tokens");
        if (!noLoss.IsEmpty) noLoss.Clear();
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
            int available = end - start - _offset, space = tokens.Length - filled;
            // Whole documents: one that would fit a window on its own but not the rest of this one waits for the next.
            if (_wholeDocuments && available > space && _offset == 0 && end - start <= tokens.Length && filled > 0) break;
            int take = Math.Min(available, space);
            if (take > 0)
            {
                _shard.ReadDocument(doc, start + _offset, tokens.Slice(filled, take));
                MarkNoLoss(noLoss, filled, doc, start + _offset, take);
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
        if (filled < tokens.Length)
        {
            // Only with whole documents: the rest of the window is padding, a segment of its own, with no loss.
            if (!noLoss.IsEmpty) noLoss[filled..].Fill(true);
            tokens[filled..].Clear();
            segments[filled..].Fill(_segmentCounter++);
        }
        // Step back one token so the next window's first input is this window's last target (a document cut across
        // windows continues from there in either mode).
        if (_offset > 0) _offset--;
        else if (!_wholeDocuments)
        {
            // The window ended exactly at a document end: re-read that document's last token next time.
            _orderIndex--;
            _segmentCounter--;
            var (_, start, end) = _order[_orderIndex];
            _offset = end - start - 1;
        }
        return filled;
    }

    /// <summary>Sets <paramref name="noLoss"/> for the tokens read from <paramref name="doc"/> at <paramref name="from"/> that precede its loss tail.</summary>
    private void MarkNoLoss(Span<bool> noLoss, int at, int doc, int from, int count)
    {
        if (_lossTails is null || noLoss.IsEmpty) return;
        int lossFrom = _shard.DocumentLength(doc) - _lossTails[doc];
        for (int k = 0; k < count && from + k < lossFrom; k++) noLoss[at + k] = true;
    }
}
