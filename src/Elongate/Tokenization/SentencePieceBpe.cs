using System.Text;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// SentencePiece BPE encoding and decoding (the algorithm of sentencepiece's bpe_model.cc, as Llama 2 uses it),
/// written from the algorithm's description. Text is normalized (optional whitespace collapsing, dummy-prefix space,
/// ' ' → U+2581), split into characters (user-defined pieces stay whole), and then the adjacent pair whose
/// concatenation is a piece with the highest score is merged, leftmost first on ties, until no pair is a piece.
/// Only Normal, UserDefined and Unused pieces take part in merging; an Unused result is split back into the pair it
/// came from at the end, so it never appears in the output, and Control/Byte/Unknown pieces are never formed by a
/// merge. Symbols that are not pieces become their UTF-8 bytes' &lt;0xNN&gt; ids (byte fallback) or the unknown id.
/// </summary>
/// <remarks>
/// Speed: merging runs on a priority queue over a linked list of symbols (O(n log n) per run). On top of that the
/// text is cut wherever no mergeable piece contains the two UTF-16 units on either side of the cut; no merge can
/// cross such a cut and merges on either side never interact, so the result is identical to encoding the whole text
/// at once. Repeated chunks (mostly words with their leading U+2581) are then served from a per-call cache.
/// </remarks>
public sealed class SentencePieceBpe : ITokenizer
{
    private const int MaxCachedChunk = 64;

    private readonly TokenVocabulary _vocab;
    private readonly SentencePieceOptions _options;
    private readonly Dictionary<string, int> _mergeable;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _mergeableLookup;
    private readonly Dictionary<string, int> _reserved;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _reservedLookup;
    private readonly HashSet<int> _innerPairs = [];
    private readonly Dictionary<char, string[]>? _userDefinedByFirstChar;
    private readonly bool _hasUnused;
    private readonly int[]? _byteIds;
    private readonly string[] _decodeText;
    private readonly byte[] _byteValue;
    private readonly SpecialTokenSplitter _special;

    /// <summary>Builds an encoder; validates the vocabulary first.</summary>
    /// <exception cref="Elongate.Common.ModelFormatException">The vocabulary is inconsistent.</exception>
    public SentencePieceBpe(SentencePieceModel model, string source = "<vocabulary>")
    {
        SentencePieceModel.Validate(model.Vocabulary, model.Options, source);
        _vocab = model.Vocabulary;
        _options = model.Options;
        int n = _vocab.Count;
        _mergeable = new Dictionary<string, int>(n, StringComparer.Ordinal);
        _reserved = new Dictionary<string, int>(StringComparer.Ordinal);
        var userDefined = new List<string>();
        var byteIds = new int[256];
        int byteCount = 0;
        for (int id = 0; id < n; id++)
        {
            var piece = _vocab.Pieces[id];
            switch (_vocab.Types[id])
            {
                case TokenType.Normal or TokenType.UserDefined or TokenType.Unused:
                    _mergeable[piece] = id;
                    for (int k = 1; k < piece.Length; k++) _innerPairs.Add(piece[k - 1] << 16 | piece[k]);
                    if (_vocab.Types[id] == TokenType.UserDefined && piece.Length > 1) userDefined.Add(piece);
                    if (_vocab.Types[id] == TokenType.Unused) _hasUnused = true;
                    break;
                case TokenType.Byte:
                    SentencePieceModel.TryParseBytePiece(piece, out var b);
                    byteIds[b] = id;
                    byteCount++;
                    _reserved[piece] = id;
                    break;
                default:
                    _reserved[piece] = id;
                    break;
            }
        }
        _mergeableLookup = _mergeable.GetAlternateLookup<ReadOnlySpan<char>>();
        _reservedLookup = _reserved.GetAlternateLookup<ReadOnlySpan<char>>();
        _byteIds = _options.ByteFallback && byteCount == 256 ? byteIds : null;
        if (userDefined.Count > 0)
            _userDefinedByFirstChar = userDefined.GroupBy(p => p[0])
                .ToDictionary(g => g.Key, g => g.OrderByDescending(p => p.Length).ToArray());
        _decodeText = new string[n];
        _byteValue = new byte[n];
        for (int i = 0; i < n; i++)
        {
            _decodeText[i] = _vocab.Pieces[i].Replace('\u2581', ' ');
            if (_vocab.Types[i] == TokenType.Byte) SentencePieceModel.TryParseBytePiece(_vocab.Pieces[i], out _byteValue[i]);
        }
        _special = new SpecialTokenSplitter(_vocab, userDefinedAlways: false);
    }

    /// <summary>Builds an encoder from a bare vocabulary (e.g. GGUF tokenizer.ggml.*), with Llama 2's settings
    /// except that byte fallback is on only when the vocabulary has the 256 byte pieces.</summary>
    public static SentencePieceBpe FromVocabulary(TokenVocabulary vocabulary, string source = "<vocabulary>")
    {
        bool hasBytes = vocabulary.Types.Count(t => t == TokenType.Byte) == 256;
        return new SentencePieceBpe(new SentencePieceModel(vocabulary, new SentencePieceOptions { ByteFallback = hasBytes }), source);
    }

    public TokenVocabulary Vocabulary => _vocab;

    public SentencePieceOptions Options => _options;

    public string Implementation => "Elongate SentencePieceBpe";

    /// <summary>Tests turn this off to check that chunking and caching never change the result.</summary>
    internal bool Chunking { get; set; } = true;

    /// <inheritdoc/>
    public bool StripsLeadingSpace => _options.AddDummyPrefix || _options.RemoveExtraWhitespaces;

    /// <inheritdoc/>
    /// <remarks>
    /// With <paramref name="parseSpecial"/>, control pieces are cut out first and every stretch of text between them is
    /// encoded as its own text, dummy prefix included, as llama.cpp does (it prefixes a space after each special token).
    /// UserDefined pieces are kept whole by the merging itself, as in SentencePiece.
    /// </remarks>
    public int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 2);
        if (addBos && _vocab.BosId >= 0) output.Add(_vocab.BosId);
        if (parseSpecial && _special.HasCandidates(true))
        {
            foreach (var (start, length, id) in _special.Split(text, parseSpecial: true))
            {
                if (id >= 0) output.Add(id);
                else EncodeText(text.Substring(start, length), output);
            }
        }
        else EncodeText(text, output);
        if (addEos && _vocab.EosId >= 0) output.Add(_vocab.EosId);
        return output.ToArray();
    }

    private void EncodeText(string text, List<int> output)
    {
        var normalized = Normalize(text);
        if (normalized.Length > 0)
        {
            var work = new Workspace();
            ReadOnlySpan<char> s = normalized;
            if (!Chunking)
            {
                RunBpe(s, output, work);
                return;
            }
            int chunkStart = 0;
            for (int i = 1; i < s.Length; i++)
            {
                char a = s[i - 1], b = s[i];
                if (char.IsHighSurrogate(a) && char.IsLowSurrogate(b)) continue;
                if (_innerPairs.Contains(a << 16 | b)) continue;
                EncodeChunk(s[chunkStart..i], output, work);
                chunkStart = i;
            }
            EncodeChunk(s[chunkStart..], output, work);
        }
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id, bool special = false)
    {
        if ((uint)id >= (uint)_vocab.Count)
            throw new ArgumentOutOfRangeException(nameof(id), id, $"id outside the {_vocab.Count}-piece vocabulary");
        return _vocab.Types[id] switch
        {
            TokenType.Byte => [_byteValue[id]],
            TokenType.Control or TokenType.Unused => special ? Encoding.UTF8.GetBytes(_vocab.Pieces[id]) : [],
            TokenType.Unknown => Encoding.UTF8.GetBytes(special ? _vocab.Pieces[id] : _options.UnknownSurface),
            _ => Encoding.UTF8.GetBytes(_decodeText[id]),
        };
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        var sb = new StringBuilder();
        var pendingBytes = new List<byte>();
        bool atStart = true;
        foreach (int id in ids)
        {
            if ((uint)id >= (uint)_vocab.Count)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"id outside the {_vocab.Count}-piece vocabulary");
            var type = _vocab.Types[id];
            if (type == TokenType.Byte)
            {
                SentencePieceModel.TryParseBytePiece(_vocab.Pieces[id], out var b);
                pendingBytes.Add(b);
                continue;
            }
            FlushBytes();
            if (type == TokenType.Control) continue;
            if (type == TokenType.Unknown)
            {
                sb.Append(_options.UnknownSurface);
                atStart = false;
                continue;
            }
            var piece = _decodeText[id];
            if (atStart && (_options.AddDummyPrefix || _options.RemoveExtraWhitespaces) && piece.StartsWith(' ')) piece = piece[1..];
            sb.Append(piece);
            atStart = false; // only the first non-control piece carries the dummy prefix, even if it was just "▁"

        }
        FlushBytes();
        return sb.ToString();

        void FlushBytes()
        {
            if (pendingBytes.Count == 0) return;
            // Encoding.UTF8 replaces each invalid sequence with U+FFFD, as SentencePiece does.
            sb.Append(Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(pendingBytes)));
            pendingBytes.Clear();
            atStart = false;
        }
    }

    private string Normalize(string text)
    {
        ReadOnlySpan<char> src = text;
        if (_options.RemoveExtraWhitespaces) src = src.Trim(' ');
        if (src.Length == 0) return "";
        var sb = new StringBuilder(src.Length + 1);
        char space = _options.EscapeWhitespaces ? '\u2581' : ' ';
        if (_options.AddDummyPrefix) sb.Append(space);
        for (int i = 0; i < src.Length; i++)
        {
            char c = src[i];
            if (c == ' ')
            {
                if (_options.RemoveExtraWhitespaces && i > 0 && src[i - 1] == ' ') continue;
                sb.Append(space);
            }
            else sb.Append(c);
        }
        return sb.ToString();
    }

    private void EncodeChunk(ReadOnlySpan<char> chunk, List<int> output, Workspace work)
    {
        if (chunk.Length <= MaxCachedChunk && work.CacheLookup.TryGetValue(chunk, out var cached))
        {
            output.AddRange(cached);
            return;
        }
        int before = output.Count;
        RunBpe(chunk, output, work);
        if (chunk.Length <= MaxCachedChunk)
            work.Cache[chunk.ToString()] = output.GetRange(before, output.Count - before).ToArray();
    }

    private void RunBpe(ReadOnlySpan<char> s, List<int> output, Workspace w)
    {
        // Initial symbols: code points, or a whole user-defined piece where one starts (longest first).
        w.Ensure(s.Length);
        int count = 0;
        for (int i = 0; i < s.Length;)
        {
            int len = char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]) ? 2 : 1;
            if (_userDefinedByFirstChar is not null && _userDefinedByFirstChar.TryGetValue(s[i], out var candidates))
                foreach (var p in candidates)
                    if (s[i..].StartsWith(p, StringComparison.Ordinal)) { len = p.Length; break; }
            w.Start[count] = i;
            w.Length[count] = len;
            w.Prev[count] = count - 1;
            w.Next[count] = count + 1;
            count++;
            i += len;
        }
        w.Next[count - 1] = -1;

        var queue = w.Queue;
        queue.Clear();
        w.RevMerge?.Clear();
        for (int k = 0; k + 1 < count; k++) TryAddPair(s, w, k, k + 1);
        while (queue.TryDequeue(out var pair, out _))
        {
            int l = pair.Left, r = pair.Right;
            // Stale entries: a side was absorbed or grew since the pair was queued.
            if (w.Length[l] == 0 || w.Length[r] == 0 || w.Next[l] != r || w.Length[l] + w.Length[r] != pair.Length) continue;
            w.Length[l] += w.Length[r];
            w.Length[r] = 0;
            int after = w.Next[r];
            w.Next[l] = after;
            if (after >= 0) w.Prev[after] = l;
            if (w.Prev[l] >= 0) TryAddPair(s, w, w.Prev[l], l);
            if (after >= 0) TryAddPair(s, w, l, after);
        }

        for (int k = 0; k >= 0; k = w.Next[k])
            Emit(s.Slice(w.Start[k], w.Length[k]), output, w);
    }

    private void TryAddPair(ReadOnlySpan<char> s, Workspace w, int left, int right)
    {
        int start = w.Start[left], len = w.Length[left] + w.Length[right];
        var merged = s.Slice(start, len);
        if (!_mergeableLookup.TryGetValue(merged, out int id)) return;
        if (_hasUnused && _vocab.Types[id] == TokenType.Unused)
        {
            // Remember how an Unused piece was formed so Emit can split it back (sentencepiece keeps the latest).
            (w.RevMerge ??= new Dictionary<string, (string, string)>(StringComparer.Ordinal))[merged.ToString()] =
                (s.Slice(start, w.Length[left]).ToString(), s.Slice(w.Start[right], w.Length[right]).ToString());
        }
        w.Queue.Enqueue(new PairEntry(left, right, len), (_vocab.Scores[id], start));
    }

    private void Emit(ReadOnlySpan<char> symbol, List<int> output, Workspace w)
    {
        if (_mergeableLookup.TryGetValue(symbol, out int id))
        {
            if (_vocab.Types[id] == TokenType.Unused && symbol.Length > 1 && w.RevMerge is not null
                && w.RevMerge.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(symbol, out var parts))
            {
                Emit(parts.Item1, output, w);
                Emit(parts.Item2, output, w);
                return;
            }
            output.Add(id);
            return;
        }
        if (_reservedLookup.TryGetValue(symbol, out id) && _vocab.Types[id] != TokenType.Unknown)
        {
            output.Add(id);
            return;
        }
        if (_byteIds is null)
        {
            output.Add(_vocab.UnkId);
            return;
        }
        // Normally one code point (at most 4 bytes; a lone surrogate becomes U+FFFD's 3).
        Span<byte> utf8 = symbol.Length <= 8 ? stackalloc byte[32] : new byte[Encoding.UTF8.GetMaxByteCount(symbol.Length)];
        int n = Encoding.UTF8.GetBytes(symbol, utf8);
        for (int i = 0; i < n; i++) output.Add(_byteIds[utf8[i]]);
    }

    private readonly record struct PairEntry(int Left, int Right, int Length);

    /// <summary>Higher score first; on equal scores the leftmost pair (sentencepiece's agenda order).</summary>
    private sealed class PairPriority : IComparer<(float Score, int Start)>
    {
        public static readonly PairPriority Instance = new();

        public int Compare((float Score, int Start) a, (float Score, int Start) b)
        {
            int c = b.Score.CompareTo(a.Score);
            return c != 0 ? c : a.Start.CompareTo(b.Start);
        }
    }

    /// <summary>Per-call scratch space, so one encoder can serve several threads.</summary>
    private sealed class Workspace
    {
        public int[] Start = new int[64], Length = new int[64], Prev = new int[64], Next = new int[64];
        public readonly PriorityQueue<PairEntry, (float, int)> Queue = new(PairPriority.Instance);
        public readonly Dictionary<string, int[]> Cache = new(StringComparer.Ordinal);
        public readonly Dictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> CacheLookup;
        public Dictionary<string, (string, string)>? RevMerge;

        public Workspace() => CacheLookup = Cache.GetAlternateLookup<ReadOnlySpan<char>>();

        public void Ensure(int n)
        {
            if (Start.Length >= n) return;
            int size = Math.Max(n, Start.Length * 2);
            Start = new int[size];
            Length = new int[size];
            Prev = new int[size];
            Next = new int[size];
        }
    }
}
