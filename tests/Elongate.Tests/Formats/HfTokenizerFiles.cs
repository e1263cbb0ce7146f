using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Tokenization;

namespace Elongate.Tests.Formats;

/// <summary>
/// tokenizer.json files built the way the tokenizers library serializes them, written here by hand rather than with
/// Elongate's writer, so the reader is tested against the format and not against itself.
/// </summary>
internal static class HfTokenizerFiles
{
    /// <summary>The pre_tokenizer of each llama.cpp fixture's model as its tokenizer.json has it.</summary>
    public static JsonNode PreTokenizerOf(string vocab) => vocab switch
    {
        "gpt-2" => ByteLevel(useRegex: true),
        "starcoder" => Sequence(Digits(true), ByteLevel(useRegex: true)),
        "falcon" => Sequence(new JsonObject { ["type"] = "Punctuation", ["behavior"] = "Contiguous" }, ByteLevel(useRegex: true),
            Digits(false), Split("[0-9][0-9][0-9]")),
        "deepseek-llm" => Sequence(Split("[\r\n]"), Split(DeepSeekLetters()), Split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), Split("\\s+$"),
            Split("[一-龥ࠀ-一가-퟿]+"), Digits(true), ByteLevel(useRegex: false)),
        _ => throw new ArgumentException(vocab),
    };

    /// <summary>DeepSeek LLM's letter class, built from its code point ranges (supplementary ones included).</summary>
    private static string DeepSeekLetters()
    {
        (int, int)[] ranges =
        [
            ('A', 'Z'), ('a', 'z'), (0xB5, 0xB5), (0xC0, 0xD6), (0xD8, 0xF6), (0xF8, 0x1BA), (0x1BC, 0x1BF), (0x1C4, 0x293), (0x295, 0x2AF),
            (0x370, 0x373), (0x376, 0x377), (0x37B, 0x37D), (0x37F, 0x37F), (0x386, 0x386), (0x388, 0x38A), (0x38C, 0x38C), (0x38E, 0x3A1),
            (0x3A3, 0x3F5), (0x3F7, 0x481), (0x48A, 0x52F), (0x531, 0x556), (0x10A0, 0x10C5), (0x13A0, 0x13F5), (0x13F8, 0x13FD),
            (0x1C90, 0x1CBA), (0x1CBD, 0x1CBF), (0x1D00, 0x1D2B), (0x1D6B, 0x1D77), (0x1D79, 0x1D9A), (0x1E00, 0x1F15), (0x1F18, 0x1F1D),
            (0x1F20, 0x1F45), (0x1F48, 0x1F4D), (0x1F50, 0x1F57), (0x1F59, 0x1F59), (0x1F5B, 0x1F5B), (0x1F5D, 0x1F5D), (0x1F5F, 0x1F7D),
            (0x1F80, 0x1FB4), (0x1FB6, 0x1FBC), (0x1FBE, 0x1FBE), (0x1FC2, 0x1FC4), (0x1FC6, 0x1FCC), (0x1FD0, 0x1FD3), (0x1FD6, 0x1FDB),
            (0x1FE0, 0x1FEC), (0x1FF2, 0x1FF4), (0x1FF6, 0x1FFC), (0x2102, 0x2102), (0x2107, 0x2107), (0x210A, 0x2113), (0x2115, 0x2115),
            (0x2119, 0x211D), (0x2124, 0x2124), (0x2126, 0x2126), (0x2128, 0x2128), (0x212A, 0x212D), (0x212F, 0x2134), (0x2139, 0x2139),
            (0x213C, 0x213F), (0x2145, 0x2149), (0x214E, 0x214E), (0x2183, 0x2184), (0x2C00, 0x2C7B), (0x2C7E, 0x2CE4), (0x2CEB, 0x2CEE),
            (0x2CF2, 0x2CF3), (0xA640, 0xA66D), (0xA680, 0xA69B), (0xA722, 0xA76F), (0xA771, 0xA787), (0xA78B, 0xA78E), (0xAB70, 0xABBF),
            (0xFB00, 0xFB06), (0xFB13, 0xFB17), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A), (0x10400, 0x1044F), (0x104B0, 0x104D3), (0x104D8, 0x104FB),
            (0x10C80, 0x10CB2), (0x10CC0, 0x10CF2), (0x118A0, 0x118DF), (0x1E900, 0x1E943),
        ];
        var sb = new StringBuilder("\\s?[");
        // The file writes single code points alone and pairs of neighbours without a dash (ͶͷA), as here.
        foreach (var (first, last) in ranges)
        {
            sb.Append(char.ConvertFromUtf32(first));
            if (last == first + 1 && first is 0x376 or 0x183 or 0x2183 or 0x2CF2) sb.Append(char.ConvertFromUtf32(last));
            else if (last != first) sb.Append('-').Append(char.ConvertFromUtf32(last));
        }
        return sb.Append("]+").ToString();
    }

    public static JsonObject ByteLevel(bool useRegex) =>
        new() { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = useRegex };

    public static JsonObject Digits(bool individual) => new() { ["type"] = "Digits", ["individual_digits"] = individual };

    public static JsonObject Split(string regex) => new()
    {
        ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false,
    };

    public static JsonObject Sequence(params JsonNode[] steps) => new() { ["type"] = "Sequence", ["pretokenizers"] = new JsonArray(steps) };

    /// <summary>
    /// A byte-level tokenizer.json for a vocabulary: Control pieces as special added tokens, UserDefined as non-special
    /// ones (kept out of model.vocab, as Llama 3's), merges as "a b" strings or, with <paramref name="pairMerges"/>, as
    /// [a, b] pairs (tokenizers 0.20 and later).
    /// </summary>
    public static JsonObject ByteLevelFile(TokenVocabulary v, JsonNode preTokenizer, bool pairMerges = false, bool ignoreMerges = false)
    {
        var added = new JsonArray();
        var vocab = new JsonObject();
        for (int i = 0; i < v.Count; i++)
        {
            if (v.Types[i] is TokenType.Control or TokenType.UserDefined)
                added.Add(new JsonObject
                {
                    ["id"] = i, ["content"] = v.Pieces[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = v.Types[i] == TokenType.UserDefined, ["special"] = v.Types[i] == TokenType.Control,
                });
            else vocab[v.Pieces[i]] = i;
        }
        var merges = new JsonArray();
        foreach (var m in v.Merges!)
        {
            int space = m.IndexOf(' ', 1);
            merges.Add(pairMerges ? new JsonArray(m[..space], m[(space + 1)..]) : JsonValue.Create(m));
        }
        return new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = preTokenizer,
            ["post_processor"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = "", ["end_of_word_suffix"] = "",
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = ignoreMerges, ["vocab"] = vocab, ["merges"] = merges,
            },
        };
    }

    /// <summary>The Llama 3 expression as Meta's tokenizer.json writes it.</summary>
    public const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>
    /// A tiny Llama-3-style file: the 256 byte pieces, a few merges, a word only ignore_merges reaches whole
    /// ("Ġhello": no merge makes it), and the special tokens after them; BOS added by the post_processor template.
    /// </summary>
    public static JsonObject TinyLlama3()
    {
        var vocab = new JsonObject();
        int id = 0;
        for (int b = 0; b < 256; b++) vocab[ByteLevelChar(b)] = id++;
        string[] merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ in", "l l", "ll o", "e ll", "' s"];
        foreach (var m in merges)
        {
            var joined = m.Replace(" ", "");
            if (!vocab.ContainsKey(joined)) vocab[joined] = id++;
        }
        vocab["Ġhello"] = id++;
        var added = new JsonArray();
        foreach (var special in new[] { "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|reserved_special_token_0|>" })
            added.Add(new JsonObject
            {
                ["id"] = id++, ["content"] = special, ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false, ["normalized"] = false,
                ["special"] = true,
            });
        var bos = added[0]!["id"]!.GetValue<int>();
        return new JsonObject
        {
            ["version"] = "1.0", ["truncation"] = null, ["padding"] = null, ["added_tokens"] = added, ["normalizer"] = null,
            ["pre_tokenizer"] = Sequence(Split(Llama3Regex), ByteLevel(useRegex: false)),
            ["post_processor"] = new JsonObject
            {
                ["type"] = "Sequence",
                ["processors"] = new JsonArray(
                    new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = false, ["use_regex"] = true },
                    new JsonObject
                    {
                        ["type"] = "TemplateProcessing",
                        ["single"] = new JsonArray(
                            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } }),
                        ["pair"] = new JsonArray(
                            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 0 } },
                            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "A", ["type_id"] = 0 } },
                            new JsonObject { ["SpecialToken"] = new JsonObject { ["id"] = "<|begin_of_text|>", ["type_id"] = 1 } },
                            new JsonObject { ["Sequence"] = new JsonObject { ["id"] = "B", ["type_id"] = 1 } }),
                        ["special_tokens"] = new JsonObject
                        {
                            ["<|begin_of_text|>"] = new JsonObject
                            {
                                ["id"] = "<|begin_of_text|>", ["ids"] = new JsonArray(bos), ["tokens"] = new JsonArray("<|begin_of_text|>"),
                            },
                        },
                    }),
            },
            ["decoder"] = new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = true, ["trim_offsets"] = true, ["use_regex"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "BPE", ["dropout"] = null, ["unk_token"] = null, ["continuing_subword_prefix"] = null, ["end_of_word_suffix"] = null,
                ["fuse_unk"] = false, ["byte_fallback"] = false, ["ignore_merges"] = true, ["vocab"] = vocab,
                ["merges"] = new JsonArray(merges.Select(m => (JsonNode)JsonValue.Create(m)).ToArray()),
            },
        };
    }

    /// <summary>GPT-2's byte-to-character map, spelled out here independently of Elongate's ByteLevel.</summary>
    public static string ByteLevelChar(int b)
    {
        int n = 0;
        for (int x = 0; x < 256; x++)
        {
            bool printable = x is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            if (x == b) return ((char)(printable ? x : 256 + n)).ToString();
            if (!printable) n++;
        }
        throw new ArgumentOutOfRangeException(nameof(b));
    }

    public static byte[] Bytes(JsonNode node) => JsonSerializer.SerializeToUtf8Bytes(node, new JsonSerializerOptions
    {
        WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });
}
