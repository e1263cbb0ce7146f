using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// Translates between a Hugging Face tokenizer.json <c>pre_tokenizer</c> and the llama.cpp pre-tokenizer names that
/// <see cref="PreTokenizer"/> knows, in both directions: reading names the llama.cpp pre-tokenizer a file's steps amount
/// to, writing gives the steps for a name.
/// </summary>
/// <remarks>
/// A name is what GGUF stores (tokenizer.ggml.pre), so a vocabulary read from tokenizer.json must carry one llama.cpp
/// knows. The file's steps are first turned into llama.cpp's list of expressions: Split(Regex, "Isolated") is its
/// expression; Digits is <c>\p{N}</c> or <c>\p{N}+</c>; Punctuation is llama.cpp's punctuation class; ByteLevel with
/// use_regex is GPT-2's expression. That list is then compared with each name's (the Llama 3 spelling
/// <c>(?i:'s|…)</c> compared as llama.cpp's spelled-out cases). Two families are matched as whole configurations
/// instead, because llama.cpp's expressions only approximate them and the same approximation is what llama.cpp
/// itself accepts for them (it identifies models by the ids of a test text, not by expressions): Falcon, whose digit
/// steps follow ByteLevel and so see byte-mapped text, and DeepSeek LLM, whose letter class lists supplementary
/// code points (written as surrogate pairs in .NET) and which ends words with Oniguruma's <c>$</c>.
/// </remarks>
internal static class HfPreTokenizers
{
    /// <summary>Meta's spelling of the contractions in Llama 3's tokenizer.json (llama.cpp spells out the cases).</summary>
    internal const string CaseInsensitiveContractions = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";

    /// <summary>Hugging Face's Punctuation pre-tokenizer: Unicode punctuation plus the ASCII symbols Rust counts as punctuation.</summary>
    private const string PunctuationClass = @"[\p{P}\$\+<=>\^~\|`]";

    // DeepSeek LLM's letter class as its tokenizer.json spells it: code points, supplementary ones included.
    private const string DeepSeekLettersHf =
        "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377"
        + "\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5"
        + "\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D"
        + "\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4"
        + "\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D"
        + "\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4"
        + "\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06"
        + "\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2"
        + "\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943]+";

    private const string DeepSeekPunctuationHf = "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";
    private const string CjkHf = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

    /// <summary>
    /// Whole configurations matched as such (see remarks), each with the llama.cpp name it stands for; the first of a
    /// name is the one written on export.
    /// </summary>
    private static readonly (string Name, Step[] Steps)[] WholeForms =
    [
        ("falcon", [new("Punctuation", "Contiguous"), new("ByteLevel", "regex"), new("Digits", "contiguous"), new("Split", "[0-9][0-9][0-9]")]),
        ("deepseek-llm", [new("Split", "[\r\n]"), new("Split", DeepSeekLettersHf), new("Split", DeepSeekPunctuationHf), new("Split", "\\s+$"),
            new("Split", CjkHf), new("Digits", "individual"), new("ByteLevel", "plain")]),
        ("deepseek-llm", [new("Split", "[\r\n]"), new("Split", DeepSeekLettersHf), new("Split", DeepSeekPunctuationHf), new("Split", "\\s+$"),
            new("Split", CjkHf), new("Digits", "contiguous"), new("ByteLevel", "plain")]),
    ];

    /// <summary>Names tried first, so that the name given to a file is the one llama.cpp's converter would write.</summary>
    private static readonly string[] Preferred =
    [
        "gpt-2", "llama-bpe", "smaug-bpe", "qwen2", "starcoder", "falcon", "deepseek-llm", "deepseek-coder", "deepseek-v3",
        "tekken", "gpt-4o", "poro-chat", "default",
    ];

    /// <summary>One pre-tokenizer step: Split (Value = the expression), Digits ("individual" / "contiguous"),
    /// Punctuation (its behaviour), ByteLevel ("regex" when use_regex, else "plain").</summary>
    internal readonly record struct Step(string Type, string Value);

    /// <summary>
    /// The llama.cpp name whose pre-tokenizer the steps amount to and whose ignore_merges matches, or null when none
    /// does; <paramref name="expressions"/> gets the steps as llama.cpp-style expressions for the error message.
    /// </summary>
    public static string? Identify(IReadOnlyList<Step> steps, bool ignoreMerges, out IReadOnlyList<string>? expressions)
    {
        IReadOnlyList<string>? patterns = null;
        foreach (var (name, form) in WholeForms)
            if (form.AsSpan().SequenceEqual(steps.ToArray()))
            {
                patterns = PreTokenizer.ForName(name).Patterns;
                break;
            }
        patterns ??= Translate(steps);
        expressions = patterns;
        if (patterns is null) return null;
        foreach (var name in CandidateOrder())
        {
            var pre = PreTokenizer.ForName(name);
            if (pre.IgnoreMerges == ignoreMerges && pre.Patterns.SequenceEqual(patterns, StringComparer.Ordinal)) return name;
        }
        return null;
    }

    /// <summary>The steps a tokenizer.json should list for the llama.cpp pre-tokenizer <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">The name is unknown.</exception>
    public static Step[] ForName(string name)
    {
        var patterns = PreTokenizer.ForName(name).Patterns;
        foreach (var (formName, form) in WholeForms)
            if (PreTokenizer.ForName(formName).Patterns.SequenceEqual(patterns, StringComparer.Ordinal)) return form;
        // GPT-2's expression is what ByteLevel itself splits with; files write it that way, not as a Split.
        if (patterns.SequenceEqual([PreTokenizer.Gpt2])) return [new("ByteLevel", "regex")];
        if (patterns.SequenceEqual([@"\p{N}", PreTokenizer.Gpt2])) return [new("Digits", "individual"), new("ByteLevel", "regex")];
        var steps = new List<Step>();
        foreach (var p in patterns) steps.Add(new("Split", p.Replace(PreTokenizer.Contractions, CaseInsensitiveContractions, StringComparison.Ordinal)));
        steps.Add(new("ByteLevel", "plain"));
        return [.. steps];
    }

    /// <summary>The tokenizer.json <c>pre_tokenizer</c> object for <paramref name="steps"/>.</summary>
    public static JsonObject ToJson(IReadOnlyList<Step> steps)
    {
        if (steps.Count == 1) return StepJson(steps[0]);
        var list = new JsonArray();
        foreach (var s in steps) list.Add(StepJson(s));
        return new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = list };
    }

    private static JsonObject StepJson(Step s) => s.Type switch
    {
        "Split" => new JsonObject
        {
            ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = s.Value }, ["behavior"] = "Isolated", ["invert"] = false,
        },
        "ByteLevel" => new JsonObject
        {
            ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = s.Value == "regex",
        },
        "Digits" => new JsonObject { ["type"] = "Digits", ["individual_digits"] = s.Value == "individual" },
        "Punctuation" => new JsonObject { ["type"] = "Punctuation", ["behavior"] = s.Value },
        _ => throw new ArgumentException($"unknown step type {s.Type}"),
    };

    /// <summary>
    /// The steps as llama.cpp-style expressions, or null when they cannot be: ByteLevel must come last (a step after it
    /// would see byte-mapped text) and appear once.
    /// </summary>
    private static List<string>? Translate(IReadOnlyList<Step> steps)
    {
        if (steps.Count == 0 || steps[^1].Type != "ByteLevel") return null;
        var patterns = new List<string>();
        for (int i = 0; i < steps.Count; i++)
        {
            var s = steps[i];
            switch (s.Type)
            {
                case "Split":
                    patterns.Add(s.Value.Replace(CaseInsensitiveContractions, PreTokenizer.Contractions, StringComparison.Ordinal));
                    break;
                case "Digits":
                    patterns.Add(s.Value == "individual" ? @"\p{N}" : @"\p{N}+");
                    break;
                case "Punctuation" when s.Value == "Contiguous":
                    patterns.Add(PunctuationClass + "+");
                    break;
                case "Punctuation" when s.Value == "Isolated":
                    patterns.Add(PunctuationClass);
                    break;
                case "ByteLevel" when i == steps.Count - 1:
                    if (s.Value == "regex") patterns.Add(PreTokenizer.Gpt2);
                    break;
                default:
                    return null;
            }
        }
        return patterns;
    }

    /// <summary>Every known name, the preferred ones first, then the rest in ordinal order.</summary>
    private static IEnumerable<string> CandidateOrder() =>
        Preferred.Where(PreTokenizer.IsKnown).Concat(PreTokenizer.Names.Except(Preferred).Order(StringComparer.Ordinal));

    /// <summary>A Split pattern given as {"String": …}: the literal text as an expression.</summary>
    public static string LiteralPattern(string text) => Regex.Escape(text);
}
