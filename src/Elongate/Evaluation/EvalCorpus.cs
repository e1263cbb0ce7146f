using System.Text.Json;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Evaluation;

/// <summary>
/// The held-out documents an evaluation reads, from any of the forms a user has at hand: one .txt file (one
/// document), a folder (each .txt file is a document, each .jsonl line a document; files in ordinal name order,
/// subfolders included), a .jsonl file (one JSON object per line, its "text" string is the document), or a prepared
/// token shard (<see cref="TokenShard"/>, recognised by its "ELTK" magic whatever its extension).
/// </summary>
/// <remarks>
/// Text documents become token streams as training sees them: BOS, then the text, no EOS. Shard documents are used
/// exactly as stored (they already carry whatever BOS/EOS the preparation gave them), and are decoded back to text
/// when a text task (first-sentence, needle) reads them. Empty documents are skipped.
/// </remarks>
public sealed class EvalCorpus : IDisposable
{
    private readonly List<string>? _texts;
    private readonly TokenShard? _shard;
    private readonly List<int>? _shardDocs;

    /// <summary>The path the documents came from (for messages and reports).</summary>
    public string Source { get; }

    /// <summary>Number of non-empty documents.</summary>
    public int Count => _texts?.Count ?? _shardDocs!.Count;

    /// <summary>Whether the documents are stored as token ids (a shard) rather than text.</summary>
    public bool IsTokenized => _shard is not null;

    private EvalCorpus(string source, List<string>? texts, TokenShard? shard)
    {
        Source = source;
        _texts = texts;
        _shard = shard;
        if (shard is not null)
            _shardDocs = Enumerable.Range(0, shard.DocumentCount).Where(i => shard.DocumentLength(i) > 0).ToList();
    }

    /// <summary>Wraps in-memory texts (tests, and callers that build documents themselves).</summary>
    public static EvalCorpus FromTexts(IEnumerable<string> texts, string source = "memory")
    {
        var list = texts.Where(t => !string.IsNullOrWhiteSpace(t)).ToList();
        if (list.Count == 0) throw new ArgumentException($"{source}: no non-empty documents");
        return new EvalCorpus(source, list, null);
    }

    /// <summary>Opens <paramref name="path"/>; throws <see cref="ModelFormatException"/> for unreadable or empty data.</summary>
    public static EvalCorpus Open(string path)
    {
        if (Directory.Exists(path))
        {
            var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories)
                .Where(f => f.EndsWith(".txt", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
                .Order(StringComparer.Ordinal).ToList();
            var texts = new List<string>();
            foreach (var f in files) texts.AddRange(ReadTextFile(f));
            if (texts.Count == 0) throw new ModelFormatException(path, "the folder holds no non-empty .txt or .jsonl documents");
            return new EvalCorpus(path, texts, null);
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder", path);
        if (IsShard(path))
        {
            var shard = TokenShard.Open(path);
            var corpus = new EvalCorpus(path, null, shard);
            if (corpus.Count == 0)
            {
                shard.Dispose();
                throw new ModelFormatException(path, "the shard holds no non-empty documents");
            }
            return corpus;
        }
        var docs = ReadTextFile(path);
        if (docs.Count == 0) throw new ModelFormatException(path, "no non-empty documents");
        return new EvalCorpus(path, docs, null);
    }

    private static bool IsShard(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var f = File.OpenRead(path);
        return f.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && BitConverter.ToUInt32(head) == TokenShard.Magic;
    }

    private static List<string> ReadTextFile(string path)
    {
        if (!path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            var text = File.ReadAllText(path);
            return string.IsNullOrWhiteSpace(text) ? [] : [text];
        }
        var docs = new List<string>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            string? text;
            try
            {
                using var json = JsonDocument.Parse(line);
                text = json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String
                    ? t.GetString() : throw new ModelFormatException(path, "the line is not a JSON object with a \"text\" string", key: $"line {lineNo}");
            }
            catch (JsonException e)
            {
                throw new ModelFormatException(path, $"bad JSON: {e.Message}", key: $"line {lineNo}", inner: e);
            }
            if (!string.IsNullOrWhiteSpace(text)) docs.Add(text);
        }
        return docs;
    }

    /// <summary>The text of document <paramref name="index"/> (a shard document is decoded; control tokens vanish).</summary>
    public string Text(int index, ITokenizer tokenizer)
    {
        if (_texts is not null) return _texts[index];
        var ids = ShardTokens(index, tokenizer, 0);
        return tokenizer.Decode(ids);
    }

    /// <summary>
    /// Token ids of document <paramref name="index"/>, at most <paramref name="maxTokens"/> of them (0 = all).
    /// A long text is encoded only as far as needed: a prefix cut just before a space is encoded, doubled until it
    /// gives enough tokens, then the ids are truncated — for SentencePiece models that split on whitespace the ids
    /// equal the head of the whole document's encoding.
    /// </summary>
    public int[] Tokens(int index, ITokenizer tokenizer, int maxTokens = 0)
    {
        if (_shard is not null) return ShardTokens(index, tokenizer, maxTokens);
        var (_, ids) = EncodePrefix(_texts![index], tokenizer, maxTokens);
        return ids;
    }

    /// <summary>
    /// Documents in order, each cut to <paramref name="maxTokensPerDocument"/> (0 = whole), until together they
    /// hold at least <paramref name="totalTokens"/> tokens (0 = every document).
    /// </summary>
    public List<int[]> TokenDocuments(ITokenizer tokenizer, long totalTokens = 0, int maxTokensPerDocument = 0)
    {
        var docs = new List<int[]>();
        long have = 0;
        for (int i = 0; i < Count && (totalTokens <= 0 || have < totalTokens); i++)
        {
            int cap = maxTokensPerDocument;
            if (totalTokens > 0)
            {
                int left = (int)Math.Min(int.MaxValue, totalTokens - have);
                cap = cap > 0 ? Math.Min(cap, left) : left;
            }
            var ids = Tokens(i, tokenizer, cap);
            if (ids.Length < 2) continue;
            docs.Add(ids);
            have += ids.Length;
        }
        return docs;
    }

    /// <summary>
    /// Encodes (with BOS) the shortest prefix of <paramref name="text"/> that yields at least
    /// <paramref name="minTokens"/> tokens (all of it when 0 or when the text is shorter), cut just before a space,
    /// and returns that prefix with its ids truncated to <paramref name="minTokens"/>.
    /// </summary>
    public static (string Prefix, int[] Ids) EncodePrefix(string text, ITokenizer tokenizer, int minTokens)
    {
        if (minTokens <= 0) return (text, tokenizer.Encode(text, addBos: true, addEos: false));
        int chars = (int)Math.Min(text.Length, 4L * minTokens + 64);
        while (true)
        {
            string prefix = chars >= text.Length ? text : CutBeforeSpace(text, chars);
            var ids = tokenizer.Encode(prefix, addBos: true, addEos: false);
            if (ids.Length >= minTokens || prefix.Length == text.Length)
                return (prefix, ids.Length > minTokens ? ids[..minTokens] : ids);
            chars = (int)Math.Min(text.Length, 2L * chars);
        }
    }

    private static string CutBeforeSpace(string text, int chars)
    {
        int i = text.LastIndexOf(' ', chars);
        return i > 0 ? text[..i] : text[..chars];
    }

    private int[] ShardTokens(int index, ITokenizer tokenizer, int maxTokens)
    {
        int doc = _shardDocs![index];
        if (_shard!.VocabSize > tokenizer.Vocabulary.Count)
            throw new ModelFormatException(_shard.Path, $"the shard's vocabulary ({_shard.VocabSize}) is larger than the model's ({tokenizer.Vocabulary.Count})");
        int len = _shard.DocumentLength(doc);
        var ids = new int[maxTokens > 0 ? Math.Min(maxTokens, len) : len];
        _shard.ReadDocument(doc, 0, ids);
        foreach (var id in ids)
            if ((uint)id >= (uint)tokenizer.Vocabulary.Count)
                throw new ModelFormatException(_shard.Path, $"document {doc} holds token {id}, outside the vocabulary of {tokenizer.Vocabulary.Count}");
        return ids;
    }

    public void Dispose() => _shard?.Dispose();
}
