using System.Collections.Concurrent;
using System.Text;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// Byte-level BPE (GPT-2, Llama 3, DeepSeek, SmolLM…), written from the algorithm's description: special tokens are
/// cut out first (<see cref="SpecialTokenSplitter"/>), the rest is split into words by the vocabulary's
/// <see cref="PreTokenizer"/>, each word's UTF-8 bytes start as one symbol each (the 256 byte pieces), and the adjacent
/// pair with the best (lowest) merge rank is merged, leftmost first on ties, until no pair has a merge.
/// Decoding maps each piece's characters back to bytes, so decode(encode(text)) is text for any valid string.
/// </summary>
/// <remarks>
/// Symbols are token ids and a merge is a dictionary lookup on the id pair, so no strings are built while merging.
/// Words of up to <see cref="ScanLimit"/> bytes (nearly all) merge in place on the stack, rescanning the pair ranks
/// each step; longer ones use a priority queue, so a long run stays O(n log n). Both pick the same pair every step.
/// Words repeat (a book's 600k words are a few tens of thousands distinct), so results are cached per word, up to a
/// bound. Unlike llama.cpp's detokenizer we do not "clean up" spaces before punctuation: that would not be lossless.
/// </remarks>
public sealed class ByteLevelBpe : ITokenizer
{
    private const int MaxCacheEntries = 200_000;
    private const int MaxCachedWord = 64;
    private const int ScanLimit = 64;

    private readonly TokenVocabulary _vocab;
    private readonly PreTokenizer _pre;
    private readonly int[] _byteIds = new int[256];
    private readonly Dictionary<long, int> _rank;
    private readonly int[] _mergeResult;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idLookup;
    private readonly SpecialTokenSplitter _special;
    private readonly byte[][] _tokenBytes;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheLookup;
    // ConcurrentDictionary.Count takes every lock; entries are counted here instead.
    private int _cacheEntries;

    /// <summary>Builds an encoder; validates the vocabulary and merges first.</summary>
    /// <param name="vocabulary">A <see cref="VocabularyKind.BytePairEncoding"/> vocabulary with merges.</param>
    /// <param name="source">Names the file in errors.</param>
    /// <param name="preTokenizer">Overrides the one named by the vocabulary (a tokenizer.json's own patterns).</param>
    /// <exception cref="ModelFormatException">The vocabulary or its merges are inconsistent, or the pre-tokenizer is unknown.</exception>
    public ByteLevelBpe(TokenVocabulary vocabulary, string source = "<vocabulary>", PreTokenizer? preTokenizer = null)
    {
        _vocab = vocabulary;
        var ids = Validate(vocabulary, source);
        _idLookup = ids.GetAlternateLookup<ReadOnlySpan<char>>();
        if (preTokenizer is null)
        {
            var name = vocabulary.PreTokenizer ?? "default";
            try
            {
                preTokenizer = PreTokenizer.ForName(name);
            }
            catch (KeyNotFoundException e)
            {
                throw new ModelFormatException(source, e.Message, key: "tokenizer.ggml.pre");
            }
        }
        _pre = preTokenizer;

        for (int b = 0; b < 256; b++)
            _byteIds[b] = ids.TryGetValue(ByteLevel.ByteToChar((byte)b).ToString(), out int id) ? id : -1;

        var merges = vocabulary.Merges!;
        _rank = new Dictionary<long, int>(merges.Length);
        _mergeResult = new int[merges.Length];
        for (int r = 0; r < merges.Length; r++)
        {
            var (left, right) = ParseMerge(merges[r], r, source);
            int l = Lookup(ids, left, r, source), rt = Lookup(ids, right, r, source), m = Lookup(ids, left + right, r, source);
            // The first (best) rank wins when a file lists a pair twice, as in llama.cpp's map emplace.
            if (_rank.TryAdd(Key(l, rt), r)) _mergeResult[r] = m;
        }

        _special = new SpecialTokenSplitter(vocabulary, userDefinedAlways: true);
        _tokenBytes = new byte[vocabulary.Count][];
        for (int i = 0; i < vocabulary.Count; i++)
            _tokenBytes[i] = vocabulary.Types[i] switch
            {
                TokenType.Normal => ByteLevel.Decode(vocabulary.Pieces[i]),
                TokenType.Byte when SentencePieceModel.TryParseBytePiece(vocabulary.Pieces[i], out var b) => [b],
                _ => Encoding.UTF8.GetBytes(vocabulary.Pieces[i]),
            };
        _cacheLookup = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public TokenVocabulary Vocabulary => _vocab;

    /// <summary>The pre-tokenizer that splits text into words.</summary>
    public PreTokenizer PreTokenizer => _pre;

    public string Implementation => "Elongate ByteLevelBpe";

    public bool StripsLeadingSpace => false;

    /// <summary>Tests turn this off to check that the word cache never changes the result.</summary>
    internal bool Caching { get; set; } = true;

    /// <summary>Tests turn this off to check that merging short words in place gives the priority queue's result.</summary>
    internal bool ScanMerging { get; set; } = true;

    /// <inheritdoc/>
    public int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 4 + 2);
        if (addBos && _vocab.BosId >= 0) output.Add(_vocab.BosId);
        var words = new List<(int Start, int Length)>();
        var work = new Workspace();
        foreach (var (start, length, id) in _special.Split(text, parseSpecial))
        {
            if (id >= 0) { output.Add(id); continue; }
            words.Clear();
            _pre.Split(text.AsSpan(start, length), words);
            foreach (var (ws, wl) in words) EncodeWord(text.AsSpan(start + ws, wl), output, work);
        }
        if (addEos && _vocab.EosId >= 0) output.Add(_vocab.EosId);
        return [.. output];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            CheckId(id);
            if (_vocab.Types[id] is TokenType.Control or TokenType.Unknown or TokenType.Unused) continue;
            bytes.AddRange(_tokenBytes[id]);
        }
        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id, bool special = false)
    {
        CheckId(id);
        return !special && _vocab.Types[id] is TokenType.Control or TokenType.Unknown or TokenType.Unused ? [] : _tokenBytes[id];
    }

    private void CheckId(int id)
    {
        if ((uint)id >= (uint)_vocab.Count)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"id outside the {_vocab.Count}-token vocabulary");
    }

    private void EncodeWord(ReadOnlySpan<char> word, List<int> output, Workspace w)
    {
        bool cacheable = Caching && word.Length <= MaxCachedWord;
        if (cacheable && _cacheLookup.TryGetValue(word, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        int before = output.Count;
        int byteCount = Encoding.UTF8.GetByteCount(word);
        w.Ensure(byteCount);
        int n = Encoding.UTF8.GetBytes(word, w.Bytes);
        if (_pre.IgnoreMerges && TryWholeWord(w.Bytes.AsSpan(0, n), w, out int whole))
            output.Add(whole);
        else
            Merge(w.Bytes.AsSpan(0, n), output, w);
        if (cacheable && Volatile.Read(ref _cacheEntries) < MaxCacheEntries
            && _cache.TryAdd(word.ToString(), output.GetRange(before, output.Count - before).ToArray()))
            Interlocked.Increment(ref _cacheEntries);
    }

    private bool TryWholeWord(ReadOnlySpan<byte> bytes, Workspace w, out int id)
    {
        Span<char> chars = bytes.Length <= 256 ? stackalloc char[bytes.Length] : new char[bytes.Length];
        for (int i = 0; i < bytes.Length; i++) chars[i] = ByteLevel.ByteToChar(bytes[i]);
        return _idLookup.TryGetValue(chars, out id);
    }

    private void Merge(ReadOnlySpan<byte> bytes, List<int> output, Workspace w)
    {
        if (ScanMerging && bytes.Length <= ScanLimit)
        {
            MergeByScan(bytes, output);
            return;
        }
        int count = bytes.Length;
        var sym = w.Symbol;
        var prev = w.Prev;
        var next = w.Next;
        for (int i = 0; i < count; i++)
        {
            sym[i] = _byteIds[bytes[i]];
            prev[i] = i - 1;
            next[i] = i + 1 < count ? i + 1 : -1;
        }
        var queue = w.Queue;
        queue.Clear();
        for (int i = 0; i + 1 < count; i++) TryQueue(i, i + 1, w);
        while (queue.TryDequeue(out var pair, out var priority))
        {
            int l = pair.Left, r = pair.Right;
            // Stale: either side was absorbed, or is no longer the symbol the pair was queued with.
            if (sym[l] != pair.LeftId || sym[r] != pair.RightId || next[l] != r) continue;
            sym[l] = _mergeResult[priority.Rank];
            sym[r] = -2;
            int after = next[r];
            next[l] = after;
            if (after >= 0) prev[after] = l;
            if (prev[l] >= 0) TryQueue(prev[l], l, w);
            if (after >= 0) TryQueue(l, after, w);
        }
        // A byte without a byte piece (-1) is dropped, as llama.cpp does.
        for (int i = 0; i >= 0; i = next[i])
            if (sym[i] >= 0) output.Add(sym[i]);
    }

    /// <summary>
    /// The same merges as the queue in <see cref="Merge"/>, for a short word: rank[i] is the rank of the pair
    /// (sym[i], sym[i + 1]); each step merges the lowest, leftmost on ties, and only its neighbours' ranks change.
    /// </summary>
    private void MergeByScan(ReadOnlySpan<byte> bytes, List<int> output)
    {
        int n = bytes.Length;
        Span<int> sym = stackalloc int[ScanLimit];
        Span<int> rank = stackalloc int[ScanLimit];
        for (int i = 0; i < n; i++) sym[i] = _byteIds[bytes[i]];
        for (int i = 0; i + 1 < n; i++) rank[i] = PairRank(sym[i], sym[i + 1]);
        while (n > 1)
        {
            int best = int.MaxValue, at = -1;
            for (int i = 0; i + 1 < n; i++)
                if (rank[i] < best) { best = rank[i]; at = i; }
            if (at < 0) break;
            sym[at] = _mergeResult[best];
            // Drop symbol at + 1 and the rank of the pair it started; the ranks after it move down with it.
            sym.Slice(at + 2, n - at - 2).CopyTo(sym[(at + 1)..]);
            if (n - at - 3 > 0) rank.Slice(at + 2, n - at - 3).CopyTo(rank[(at + 1)..]);
            n--;
            if (at + 1 < n) rank[at] = PairRank(sym[at], sym[at + 1]);
            if (at > 0) rank[at - 1] = PairRank(sym[at - 1], sym[at]);
        }
        // A byte without a byte piece (-1) is dropped, as llama.cpp does.
        for (int i = 0; i < n; i++)
            if (sym[i] >= 0) output.Add(sym[i]);
    }

    private int PairRank(int left, int right) =>
        left >= 0 && right >= 0 && _rank.TryGetValue(Key(left, right), out int rank) ? rank : int.MaxValue;

    private void TryQueue(int left, int right, Workspace w)
    {
        int a = w.Symbol[left], b = w.Symbol[right];
        if (a < 0 || b < 0 || !_rank.TryGetValue(Key(a, b), out int rank)) return;
        w.Queue.Enqueue(new Pair(left, right, a, b), (rank, left));
    }

    private static long Key(int left, int right) => (long)left << 32 | (uint)right;

    private static (string Left, string Right) ParseMerge(string merge, int rank, string source)
    {
        // llama.cpp splits at the first space after the first character, so a merge whose left side is itself a space
        // piece still parses.
        int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
        if (space < 0 || space == merge.Length - 1)
            throw new ModelFormatException(source, $"merge {rank} '{SentencePieceModel.Printable(merge)}' is not two pieces separated by a space", key: "tokenizer.ggml.merges");
        return (merge[..space], merge[(space + 1)..]);
    }

    private static int Lookup(Dictionary<string, int> ids, string piece, int rank, string source) =>
        ids.TryGetValue(piece, out int id) ? id
            : throw new ModelFormatException(source, $"merge {rank} uses '{SentencePieceModel.Printable(piece)}', which is not in the vocabulary", key: "tokenizer.ggml.merges");

    /// <summary>
    /// Checks what encoding relies on: equal array lengths, non-empty unique pieces, known types, special ids inside
    /// the vocabulary and merges present. Returns the piece → id map. Byte pieces may be missing: Falcon's and
    /// StarCoder's vocabularies lack bytes that never occur in valid UTF-8 or text (0xC0, 0xF5…), and such a byte is
    /// dropped, as llama.cpp does.
    /// </summary>
    private static Dictionary<string, int> Validate(TokenVocabulary v, string source)
    {
        if (v.Kind != VocabularyKind.BytePairEncoding)
            throw new ModelFormatException(source, $"vocabulary is {v.Kind}, not byte-level BPE");
        if (v.Pieces is null || v.Scores is null || v.Types is null)
            throw new ModelFormatException(source, "vocabulary arrays must not be null");
        int n = v.Pieces.Length;
        if (n == 0) throw new ModelFormatException(source, "vocabulary has no pieces", key: "tokenizer.ggml.tokens");
        if (v.Scores.Length != n || v.Types.Length != n)
            throw new ModelFormatException(source, $"vocabulary has {n} pieces but {v.Scores.Length} scores and {v.Types.Length} types");
        if (v.Merges is null) throw new ModelFormatException(source, "byte-level BPE vocabulary has no merges", key: "tokenizer.ggml.merges");
        var ids = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            var piece = v.Pieces[i];
            if (string.IsNullOrEmpty(piece)) throw new ModelFormatException(source, $"token {i} is empty", key: "tokenizer.ggml.tokens");
            if (v.Types[i] is < TokenType.Normal or > TokenType.Byte)
                throw new ModelFormatException(source, $"token {i} has unknown type {(int)v.Types[i]}", key: "tokenizer.ggml.token_type");
            if (!ids.TryAdd(piece, i))
                throw new ModelFormatException(source, $"token '{SentencePieceModel.Printable(piece)}' is defined twice (ids {ids[piece]} and {i})", key: "tokenizer.ggml.tokens");
        }
        foreach (var (id, key) in new[] { (v.BosId, "tokenizer.ggml.bos_token_id"), (v.EosId, "tokenizer.ggml.eos_token_id"), (v.UnkId, "tokenizer.ggml.unknown_token_id"),
                     (v.EotId, "tokenizer.ggml.eot_token_id"), (v.EomId, "tokenizer.ggml.eom_token_id"), (v.PadId, "tokenizer.ggml.padding_token_id") })
            if (id < -1 || id >= n) throw new ModelFormatException(source, $"token id {id} is outside the {n}-token vocabulary", key: key);
        return ids;
    }

    private readonly record struct Pair(int Left, int Right, int LeftId, int RightId);

    /// <summary>Per-call scratch space, so one encoder can serve several threads.</summary>
    private sealed class Workspace
    {
        public byte[] Bytes = new byte[256];
        public int[] Symbol = new int[256], Prev = new int[256], Next = new int[256];
        public readonly PriorityQueue<Pair, (int Rank, int Left)> Queue = new();

        public void Ensure(int n)
        {
            if (Bytes.Length >= n) return;
            int size = Math.Max(n, Bytes.Length * 2);
            Bytes = new byte[size];
            Symbol = new int[size];
            Prev = new int[size];
            Next = new int[size];
        }
    }
}
