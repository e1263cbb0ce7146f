using System.Text;
using System.Text.RegularExpressions;

namespace Elongate.Tokenization;

/// <summary>
/// The split of text into words that byte-level BPE runs before merging, for each pre-tokenizer llama.cpp names in GGUF
/// <c>tokenizer.ggml.pre</c>. A pre-tokenizer is a list of regular expressions applied in turn: each splits every piece
/// the previous one produced into its matches and the text between them (llama.cpp's unicode_regex_split; Hugging Face's
/// Split with behaviour "Isolated"). Nothing is ever dropped, so the words always concatenate back to the text.
/// </summary>
/// <remarks>
/// The expressions are the models' own (their tokenizer.json) in .NET syntax, as llama.cpp's llama-vocab.cpp lists them.
/// Divergences from llama.cpp, which runs std::regex over one "collapsed" character per code point:
/// <list type="bullet">
/// <item>.NET matches UTF-16, so a supplementary-plane letter or digit (U+10000 and up: math alphanumerics, CJK
/// extension B) is two surrogates, which <c>\p{L}</c>/<c>\p{N}</c> do not match; they fall into the "other" class
/// instead. Explicit supplementary ranges (DeepSeek's letter class) are written as surrogate pairs and do match.</item>
/// <item><c>$</c> in llama.cpp's DeepSeek expression is end of piece; .NET's <c>$</c> would also match before a final
/// "\n", so it is written <c>\z</c>.</item>
/// </list>
/// </remarks>
public sealed class PreTokenizer
{
    // GPT-2's expression, the base of most of the others.
    internal const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";
    // Llama 3's tokenizer.json has (?i:'s|…); llama.cpp spells the case-insensitivity out, as .NET could also do.
    internal const string Contractions = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
    private const string Llama3 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Cjk = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

    // DeepSeek LLM's cased-letter class (its tokenizer.json), with the supplementary ranges as surrogate pairs.
    private static readonly string DeepSeekLetters =
        @"\s?(?:[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377"
        + @"\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
        + @"\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D"
        + @"\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4"
        + @"\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D"
        + @"\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4"
        + @"\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06"
        + @"\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A]"
        + SupplementaryRanges((0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB), (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2),
            (0x118A0, 0x118DF), (0x1E900, 0x1E943))
        + ")+";

    private static readonly Dictionary<string, Func<PreTokenizer>> Table = BuildTable();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, PreTokenizer> Built = new(StringComparer.Ordinal);

    // Built on first use: readers look names and patterns up (a tokenizer.json's pre-tokenizer is identified by
    // comparing expressions) without paying for compiling every expression they consider.
    private readonly Lazy<Regex[]> _regexes;

    private PreTokenizer(string name, string[] patterns, bool ignoreMerges = false, bool addBos = false)
    {
        Name = name;
        Patterns = patterns;
        IgnoreMerges = ignoreMerges;
        AddsBos = addBos;
        _regexes = new(() => Array.ConvertAll(patterns, p => new Regex(p, RegexOptions.CultureInvariant | RegexOptions.Compiled)));
    }

    /// <summary>The name as given in GGUF tokenizer.ggml.pre.</summary>
    public string Name { get; }

    /// <summary>The .NET regular expressions, applied in order.</summary>
    public IReadOnlyList<string> Patterns { get; }

    /// <summary>A word that is itself a token is emitted whole, without merging (Llama 3's tokenizer.json "ignore_merges").</summary>
    public bool IgnoreMerges { get; }

    /// <summary>llama.cpp's default for add_bos_token when the file does not say (true for the Llama 3 family).</summary>
    public bool AddsBos { get; }

    /// <summary>Every name <see cref="ForName"/> accepts.</summary>
    public static IReadOnlyCollection<string> Names => Table.Keys;

    /// <summary>The pre-tokenizer llama.cpp uses for <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The name is not one llama.cpp knows for these families.</exception>
    public static PreTokenizer ForName(string name)
    {
        if (!Table.TryGetValue(name, out var make))
            throw new KeyNotFoundException($"unknown pre-tokenizer '{name}'; known: {string.Join(", ", Table.Keys.Order(StringComparer.Ordinal))}");
        return Built.GetOrAdd(name, _ => make());
    }

    /// <summary>True when <see cref="ForName"/> knows <paramref name="name"/>.</summary>
    public static bool IsKnown(string name) => Table.ContainsKey(name);

    /// <summary>A pre-tokenizer from explicit expressions (a Hugging Face tokenizer.json's Split patterns).</summary>
    /// <exception cref="ArgumentException">An expression is not valid .NET syntax.</exception>
    public static PreTokenizer FromPatterns(string name, IReadOnlyList<string> patterns, bool ignoreMerges)
    {
        var pre = new PreTokenizer(name, [.. patterns], ignoreMerges);
        // Explicit expressions come from files: compile now, so a bad one fails here rather than at the first Split.
        _ = pre._regexes.Value;
        return pre;
    }

    /// <summary>Appends the words of <paramref name="text"/> as (start, length) pairs, in order, covering it exactly.</summary>
    public void Split(ReadOnlySpan<char> text, List<(int Start, int Length)> words)
    {
        if (text.IsEmpty) return;
        int first = words.Count;
        words.Add((0, text.Length));
        var next = new List<(int, int)>();
        foreach (var regex in _regexes.Value)
        {
            next.Clear();
            for (int w = first; w < words.Count; w++)
            {
                var (start, length) = words[w];
                int at = 0;
                foreach (var m in regex.EnumerateMatches(text.Slice(start, length)))
                {
                    if (m.Length == 0) continue;
                    if (m.Index > at) next.Add((start + at, m.Index - at));
                    next.Add((start + m.Index, m.Length));
                    at = m.Index + m.Length;
                }
                if (at < length) next.Add((start + at, length - at));
            }
            words.RemoveRange(first, words.Count - first);
            words.AddRange(next);
        }
    }

    /// <summary>The words of <paramref name="text"/> as strings (for tests and diagnostics).</summary>
    public List<string> Split(string text)
    {
        var words = new List<(int Start, int Length)>();
        Split(text.AsSpan(), words);
        return words.ConvertAll(w => text.Substring(w.Start, w.Length));
    }

    private static Dictionary<string, Func<PreTokenizer>> BuildTable()
    {
        var t = new Dictionary<string, Func<PreTokenizer>>(StringComparer.Ordinal);
        void Add(string[] names, Func<string, PreTokenizer> make)
        {
            foreach (var n in names) t[n] = () => make(n);
        }
        // llama.cpp's fallback for BPE files without a pre-tokenizer name.
        Add(["default"], n => new(n, [@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"]));
        Add(["llama3", "llama-v3", "llama-bpe", "falcon3", "pixtral"], n => new(n, [Llama3], ignoreMerges: true, addBos: true));
        Add(["dbrx", "smaug-bpe"], n => new(n, [Llama3]));
        Add(["glm4", "chatglm-bpe"], n => new(n, [Llama3]));
        Add(["gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "gigachat", "exaone4"], n => new(n, [Gpt2]));
        Add(["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b"], n => new(n, [@"\p{N}", Gpt2]));
        Add(["falcon"], n => new(n, [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"]));
        Add(["qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"], n => new(n, [Qwen2]));
        Add(["deepseek-llm"], n => new(n, ["[\r\n]", DeepSeekLetters, "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+", @"\s+\z", Cjk, @"\p{N}+"]));
        Add(["deepseek-coder"], n => new(n, ["[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", Cjk, @"\p{N}"]));
        Add(["deepseek-v3"], n => new(n, [@"\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
            @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]));
        Add(["tekken"], n => new(n, [@"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"],
            ignoreMerges: true, addBos: true));
        Add(["gpt-4o", "llama4"], n => new(n, [@"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+" + Contractions + @"?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*" + Contractions + @"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"]));
        Add(["poro-chat", "bloom", "gpt3-finnish"], n => new(n, [" ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"]));
        return t;
    }

    /// <summary>Supplementary-plane ranges as an alternation of surrogate pairs ("|\uD801[\uDC00-\uDC4F]|…").</summary>
    private static string SupplementaryRanges(params (int First, int Last)[] ranges)
    {
        var sb = new StringBuilder();
        foreach (var (first, last) in ranges)
            for (int start = first; start <= last;)
            {
                // One alternative per high surrogate the range touches.
                int end = Math.Min(last, start | 0x3FF);
                string a = char.ConvertFromUtf32(start), b = char.ConvertFromUtf32(end);
                sb.Append($@"|\u{(int)a[0]:X4}[\u{(int)a[1]:X4}-\u{(int)b[1]:X4}]");
                start = end + 1;
            }
        return sb.ToString();
    }
}
