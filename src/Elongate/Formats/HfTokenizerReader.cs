using System.Text.Json;
using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> (the tokenizers library's serialization, as transformers'
/// PreTrainedTokenizerFast loads it) and the <c>tokenizer_config.json</c> and <c>chat_template.jinja</c> beside it into a
/// <see cref="TokenVocabulary"/>: byte-level BPE (GPT-2, Llama 3, DeepSeek, StarCoder, Falcon…) with the llama.cpp
/// pre-tokenizer name the file's steps amount to, or SentencePiece-style BPE (Llama 2, Mistral: byte_fallback and "▁").
/// </summary>
/// <remarks>
/// Only what encodes the same as the tokenizers library is accepted; anything else (WordPiece or Unigram models, a
/// normalizer that changes text, BPE dropout, a pre-tokenizer llama.cpp has no name for) is a
/// <see cref="ModelFormatException"/> whose key is the JSON path at fault ("model.type", "pre_tokenizer.pretokenizers[1]").
/// Ids must run from 0 to N-1 over model.vocab and added_tokens together, because GGUF and the encoders index pieces
/// by id. Added tokens become Control pieces when special, else UserDefined (cut out of text before encoding, as the
/// tokenizers library does), with their lstrip/rstrip as <see cref="TokenVocabulary.Strip"/>; single_word is not kept.
/// </remarks>
public static class HfTokenizerReader
{
    /// <summary>The tokenizers library's file name.</summary>
    public const string FileName = "tokenizer.json";

    /// <summary>transformers' tokenizer settings file (special tokens, add_bos_token, chat_template).</summary>
    public const string ConfigFileName = "tokenizer_config.json";

    /// <summary>transformers' separate chat template file (newer save_pretrained writes the template there).</summary>
    public const string ChatTemplateFileName = "chat_template.jinja";

    /// <summary>
    /// Reads <paramref name="path"/> (a tokenizer.json, or a folder holding one) and, when present beside it,
    /// tokenizer_config.json and chat_template.jinja, whose values take precedence over tokenizer.json's.
    /// </summary>
    /// <exception cref="ModelFormatException">A file is missing, malformed or describes an unsupported tokenizer.</exception>
    public static TokenVocabulary Read(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, FileName) : path;
        var folder = Path.GetDirectoryName(Path.GetFullPath(file))!;
        var json = ReadBytes(file);
        string configPath = Path.Combine(folder, ConfigFileName), templatePath = Path.Combine(folder, ChatTemplateFileName);
        var config = File.Exists(configPath) ? ReadBytes(configPath) : null;
        string? template = File.Exists(templatePath) ? System.Text.Encoding.UTF8.GetString(ReadBytes(templatePath)) : null;
        var vocab = Read(json, file, config, configPath);
        return template is null ? vocab : vocab with { ChatTemplate = template };
    }

    /// <summary>Reads tokenizer.json bytes, with tokenizer_config.json bytes when given.</summary>
    /// <param name="tokenizerJson">The tokenizer.json content.</param>
    /// <param name="source">Names tokenizer.json in errors.</param>
    /// <param name="tokenizerConfigJson">The tokenizer_config.json content, or null.</param>
    /// <param name="configSource">Names tokenizer_config.json in errors.</param>
    /// <exception cref="ModelFormatException">The content is malformed or describes an unsupported tokenizer.</exception>
    public static TokenVocabulary Read(byte[] tokenizerJson, string source, byte[]? tokenizerConfigJson = null, string configSource = ConfigFileName)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        var (vocab, ids, template) = ReadTokenizer(tokenizerJson, source);
        var settings = tokenizerConfigJson is null ? new Settings() : ReadSettings(tokenizerConfigJson, configSource, ids);
        return Resolve(vocab, ids, template, settings, source, configSource);
    }

    /// <summary>
    /// Applies a tokenizer_config.json to a vocabulary read from elsewhere (a tokenizer.model beside it): its special
    /// tokens, add_bos_token/add_eos_token and chat template replace the vocabulary's.
    /// </summary>
    /// <exception cref="ModelFormatException">The file is malformed or names a token the vocabulary lacks.</exception>
    public static TokenVocabulary ApplyConfig(TokenVocabulary vocabulary, byte[] tokenizerConfigJson, string configSource)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var ids = new Dictionary<string, int>(vocabulary.Count, StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Count; i++) ids.TryAdd(vocabulary.Pieces[i], i);
        var s = ReadSettings(tokenizerConfigJson, configSource, ids);
        var v = vocabulary with
        {
            BosId = s.Bos ?? vocabulary.BosId,
            EosId = s.Eos ?? vocabulary.EosId,
            PadId = s.Pad ?? vocabulary.PadId,
            UnkId = s.Unk ?? vocabulary.UnkId,
            AddBos = s.AddBos ?? vocabulary.AddBos,
            AddEos = s.AddEos ?? vocabulary.AddEos,
            ChatTemplate = s.ChatTemplate ?? vocabulary.ChatTemplate,
        };
        CheckAddFlags(v, configSource);
        return v;
    }

    private static byte[] ReadBytes(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read file: {e.Message}", inner: e);
        }
    }

    /// <summary>What tokenizer_config.json says; null members are not given there.</summary>
    private sealed record Settings
    {
        public int? Bos { get; init; }
        public int? Eos { get; init; }
        public int? Pad { get; init; }
        public int? Unk { get; init; }
        public bool? AddBos { get; init; }
        public bool? AddEos { get; init; }
        public string? ChatTemplate { get; init; }
    }

    /// <summary>The special tokens the post_processor's template puts before and after the text.</summary>
    private readonly record struct Template(int Bos, int Eos);

    private static (TokenVocabulary Vocab, Dictionary<string, int> Ids, Template Template) ReadTokenizer(byte[] bytes, string source)
    {
        using var doc = HfJsonNode.Parse(bytes, source);
        var root = new HfJsonNode(doc.RootElement, "", source);
        root.RequireObject();
        var model = root.Require("model");
        model.RequireObject();
        string type = model.Get("type")?.String() ?? (model.Get("merges") is not null ? "BPE" : "(none)");
        if (type != "BPE")
            throw new ModelFormatException(source,
                $"model type '{type}' is not supported; Elongate reads BPE tokenizers (byte-level as GPT-2 and Llama 3, or SentencePiece-style with byte_fallback as Llama 2)",
                key: "model.type");
        if (model.Get("dropout") is { } dropout && !(dropout.Kind == JsonValueKind.Number && dropout.Element.TryGetDouble(out var p) && p == 0))
            throw dropout.Error("BPE dropout merges at random; Elongate's encoders are deterministic");
        foreach (var affix in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
            if (model.Get(affix) is { } a && a.String().Length > 0)
                throw a.Error("subword prefixes and word suffixes are not supported (no Llama-family tokenizer uses them)");
        bool byteFallback = model.Get("byte_fallback")?.Bool() ?? false;
        bool ignoreMerges = model.Get("ignore_merges")?.Bool() ?? false;

        var (pieces, types, ids, strip) = ReadPieces(root, model, source);
        var merges = ReadMerges(model.Require("merges"), ids);
        int unk = -1;
        if (model.Get("unk_token") is { } unkNode)
        {
            var unkText = unkNode.String();
            if (!ids.TryGetValue(unkText, out unk)) throw unkNode.Error($"'{SentencePieceModel.Printable(unkText)}' is not in the vocabulary");
        }
        var template = ReadTemplate(root.Get("post_processor"), ids);

        if (byteFallback || HfSentencePieceStyle.Detect(root))
        {
            var sp = HfSentencePieceStyle.Build(root, pieces, types, merges, ids, unk, ignoreMerges, source);
            return (sp with { Strip = strip }, ids, template);
        }

        CheckNoNormalizer(root.Get("normalizer"));
        var pre = root.Get("pre_tokenizer") ?? throw new ModelFormatException(source,
            "byte-level BPE needs a pre-tokenizer (ByteLevel, or Split steps followed by ByteLevel)", key: "pre_tokenizer");
        var steps = new List<HfPreTokenizers.Step>();
        ReadSteps(pre, steps);
        var name = HfPreTokenizers.Identify(steps, ignoreMerges, out var expressions)
            ?? throw pre.Error(expressions is null
                ? "these steps are not a pre-tokenizer llama.cpp knows (ByteLevel must come last unless the whole sequence is Falcon's)"
                : $"the split expressions (ignore_merges {(ignoreMerges ? "true" : "false")}) match none of llama.cpp's pre-tokenizers: "
                  + string.Join(" ; ", expressions.Select(e => SentencePieceModel.Printable(e))));
        if (root.Get("decoder") is { } decoder && decoder.Require("type").String() != "ByteLevel")
            throw decoder.Require("type").Error($"decoder '{decoder.Require("type").String()}' does not undo the ByteLevel byte mapping; byte-level BPE needs the ByteLevel decoder");

        var vocab = new TokenVocabulary
        {
            Pieces = pieces,
            Scores = new float[pieces.Length],
            Types = types,
            Kind = VocabularyKind.BytePairEncoding,
            Merges = merges,
            PreTokenizer = name,
            BosId = -1,
            EosId = -1,
            UnkId = unk,
            AddBos = false,
            Strip = strip,
        };
        return (vocab, ids, template);
    }

    /// <summary>
    /// model.vocab and added_tokens as dense arrays by id: vocab pieces are Normal, added tokens Control (special) or
    /// UserDefined, with their lstrip/rstrip (whitespace they swallow when cut out of text; null when none does). An
    /// added token may repeat a vocab entry (same id and text, as Llama 2's &lt;s&gt;).
    /// </summary>
    private static (string[] Pieces, TokenType[] Types, Dictionary<string, int> Ids, TokenStrip[]? Strip) ReadPieces(HfJsonNode root, HfJsonNode model, string source)
    {
        var byId = new Dictionary<int, string>();
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        var vocabNode = model.Require("vocab");
        foreach (var (piece, idNode) in vocabNode.Members())
        {
            int id = idNode.Index();
            if (piece.Length == 0) throw idNode.Error("a piece is empty");
            if (!ids.TryAdd(piece, id)) throw idNode.Error($"piece '{SentencePieceModel.Printable(piece)}' is listed twice");
            if (!byId.TryAdd(id, piece))
                throw idNode.Error($"id {id} is given to both '{SentencePieceModel.Printable(byId[id])}' and '{SentencePieceModel.Printable(piece)}'");
        }
        var special = new Dictionary<int, bool>();
        var stripById = new Dictionary<int, TokenStrip>();
        if (root.Get("added_tokens") is { } addedNode)
            foreach (var item in addedNode.Items())
            {
                item.RequireObject();
                var idNode = item.Require("id");
                int id = idNode.Index();
                var content = item.Require("content").String();
                if (content.Length == 0) throw item.Require("content").Error("an added token is empty");
                bool isSpecial = item.Get("special")?.Bool() ?? false;
                if (byId.TryGetValue(id, out var existing))
                {
                    if (existing != content)
                        throw idNode.Error($"id {id} is '{SentencePieceModel.Printable(content)}' here but '{SentencePieceModel.Printable(existing)}' in model.vocab");
                }
                else
                {
                    if (ids.TryGetValue(content, out int other))
                        throw idNode.Error($"'{SentencePieceModel.Printable(content)}' is given id {id} here but has id {other} already");
                    byId[id] = content;
                    ids[content] = id;
                }
                if (!special.TryAdd(id, isSpecial)) throw idNode.Error($"id {id} is listed twice in added_tokens");
                var strip = (item.Get("lstrip")?.Bool() ?? false ? TokenStrip.Left : TokenStrip.None)
                            | (item.Get("rstrip")?.Bool() ?? false ? TokenStrip.Right : TokenStrip.None);
                if (strip != TokenStrip.None) stripById[id] = strip;
            }
        int n = byId.Count;
        if (n == 0) throw new ModelFormatException(source, "the vocabulary is empty", key: "model.vocab");
        // Ids are unique, so any id at or past the count means a gap below it; checked before allocating by id.
        for (int i = 0; i < n; i++)
            if (!byId.ContainsKey(i))
                throw new ModelFormatException(source,
                    $"no token has id {i}: ids over model.vocab and added_tokens must run from 0 to {n - 1} without gaps (the largest is {byId.Keys.Max()})",
                    key: "model.vocab");
        var pieces = new string[n];
        var types = new TokenType[n];
        for (int i = 0; i < n; i++)
        {
            pieces[i] = byId[i];
            types[i] = special.TryGetValue(i, out bool s) ? (s ? TokenType.Control : TokenType.UserDefined) : TokenType.Normal;
        }
        TokenStrip[]? strips = null;
        if (stripById.Count > 0)
        {
            strips = new TokenStrip[n];
            foreach (var (id, strip) in stripById) strips[id] = strip;
        }
        return (pieces, types, ids, strips);
    }

    /// <summary>
    /// model.merges in either serialization ("left right" strings, or [left, right] pairs since tokenizers 0.20), as
    /// "left right" strings; every side and every result must be a piece.
    /// </summary>
    private static string[] ReadMerges(HfJsonNode node, Dictionary<string, int> ids)
    {
        var merges = new string[node.Count()];
        int rank = 0;
        foreach (var item in node.Items())
        {
            string left, right;
            if (item.Kind == JsonValueKind.String)
            {
                var text = item.String();
                // The tokenizers library splits on ' ' and wants exactly two parts.
                var parts = text.Split(' ');
                if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
                    throw item.Error($"'{SentencePieceModel.Printable(text)}' is not two pieces separated by one space");
                (left, right) = (parts[0], parts[1]);
            }
            else
            {
                if (item.Count() != 2) throw item.Error("a merge must be two pieces");
                var pair = item.Items().ToArray();
                (left, right) = (pair[0].String(), pair[1].String());
                if (left.Length == 0 || right.Length == 0) throw item.Error("a merge side is empty");
                // GGUF keeps merges as "left right", split at the first space after the first character.
                if (left.IndexOf(' ', 1) >= 0)
                    throw item.Error($"left side '{SentencePieceModel.Printable(left)}' contains a space, which GGUF's \"left right\" merges cannot hold");
            }
            foreach (var side in new[] { left, right, left + right })
                if (!ids.ContainsKey(side)) throw item.Error($"'{SentencePieceModel.Printable(side)}' is not in the vocabulary");
            merges[rank++] = left + " " + right;
        }
        return merges;
    }

    /// <summary>A normalizer is accepted only when it changes nothing (absent, null, or an empty Sequence).</summary>
    private static void CheckNoNormalizer(HfJsonNode? normalizer)
    {
        if (normalizer is not { } n) return;
        var type = n.Require("type").String();
        if (type == "Sequence" && n.Require("normalizers").Count() == 0) return;
        throw n.Require("type").Error(
            $"normalizer '{type}' changes the text before encoding, which Elongate (like llama.cpp) does not do; ids would differ from the tokenizers library's");
    }

    /// <summary>Flattens the pre_tokenizer (nested Sequences included) into steps; unsupported steps are errors.</summary>
    private static void ReadSteps(HfJsonNode node, List<HfPreTokenizers.Step> steps)
    {
        var typeNode = node.Require("type");
        var type = typeNode.String();
        switch (type)
        {
            case "Sequence":
                foreach (var item in node.Require("pretokenizers").Items()) ReadSteps(item, steps);
                break;
            case "Split":
            {
                var behavior = node.Require("behavior").String();
                if (behavior != "Isolated")
                    throw node.Require("behavior").Error($"Split behavior '{behavior}' is not supported; llama.cpp's pre-tokenizers split \"Isolated\"");
                if (node.Get("invert")?.Bool() == true) throw node.Require("invert").Error("inverted Split is not supported");
                var pattern = node.Require("pattern");
                pattern.RequireObject();
                if (pattern.Get("Regex") is { } regex) steps.Add(new("Split", regex.String()));
                else if (pattern.Get("String") is { } literal) steps.Add(new("Split", HfPreTokenizers.LiteralPattern(literal.String())));
                else throw pattern.Error("must hold \"Regex\" or \"String\"");
                break;
            }
            case "ByteLevel":
                // The tokenizers library's defaults: add_prefix_space and use_regex are true when not written.
                if (node.Get("add_prefix_space")?.Bool() ?? true)
                    throw (node.Get("add_prefix_space") ?? typeNode).Error("ByteLevel add_prefix_space (a space put before the text) is not supported; llama.cpp never adds one");
                steps.Add(new("ByteLevel", node.Get("use_regex")?.Bool() ?? true ? "regex" : "plain"));
                break;
            case "Digits":
                steps.Add(new("Digits", node.Get("individual_digits")?.Bool() ?? false ? "individual" : "contiguous"));
                break;
            case "Punctuation":
            {
                var behavior = node.Get("behavior")?.String() ?? "Isolated";
                if (behavior is not ("Isolated" or "Contiguous"))
                    throw node.Require("behavior").Error($"Punctuation behavior '{behavior}' is not supported");
                steps.Add(new("Punctuation", behavior));
                break;
            }
            default:
                throw typeNode.Error($"pre-tokenizer type '{type}' is not supported for byte-level BPE (Split, ByteLevel, Digits, Punctuation and Sequence are)");
        }
    }

    /// <summary>
    /// The special tokens a TemplateProcessing post_processor (alone or in a Sequence) puts around a single text:
    /// one before it is the BOS transformers adds, one after it the EOS. ByteLevel post-processing only adjusts offsets.
    /// </summary>
    private static Template ReadTemplate(HfJsonNode? node, Dictionary<string, int> ids)
    {
        var result = new Template(-1, -1);
        if (node is not { } n) return result;
        var typeNode = n.Require("type");
        switch (typeNode.String())
        {
            case "ByteLevel":
                return result;
            case "Sequence":
                foreach (var item in n.Require("processors").Items())
                {
                    var t = ReadTemplate(item, ids);
                    if (t.Bos >= 0 || t.Eos >= 0) result = t;
                }
                return result;
            case "TemplateProcessing":
            {
                var specialIds = new Dictionary<string, int>(StringComparer.Ordinal);
                if (n.Get("special_tokens") is { } specials)
                    foreach (var (name, value) in specials.Members())
                    {
                        var list = value.Require("ids");
                        if (list.Count() == 1) specialIds[name] = list.Items().First().Index();
                    }
                bool seenText = false;
                foreach (var item in n.Require("single").Items())
                {
                    item.RequireObject();
                    if (item.Get("Sequence") is not null)
                    {
                        seenText = true;
                        continue;
                    }
                    var special = item.Require("SpecialToken");
                    var idNode = special.Require("id");
                    var name = idNode.String();
                    int id = specialIds.TryGetValue(name, out int sid) ? sid
                        : ids.TryGetValue(name, out int vid) ? vid
                        : throw idNode.Error($"special token '{SentencePieceModel.Printable(name)}' is not in the vocabulary");
                    if ((uint)id >= (uint)ids.Count) throw idNode.Error($"special token id {id} is outside the {ids.Count}-token vocabulary");
                    if (!seenText && result.Bos < 0) result = result with { Bos = id };
                    else if (seenText && result.Eos < 0) result = result with { Eos = id };
                }
                return result;
            }
            default:
                throw typeNode.Error($"post_processor '{typeNode.String()}' is not supported (TemplateProcessing, ByteLevel and Sequence are)");
        }
    }

    private static Settings ReadSettings(byte[] bytes, string source, Dictionary<string, int> ids)
    {
        using var doc = HfJsonNode.Parse(bytes, source);
        var root = new HfJsonNode(doc.RootElement, "", source);
        root.RequireObject();
        int? Token(string key)
        {
            if (root.Get(key) is not { } node) return null;
            // A plain string, or an AddedToken object {"content": …} as older transformers saved it.
            var text = node.Kind == JsonValueKind.Object ? node.Require("content").String() : node.String();
            return ids.TryGetValue(text, out int id) ? id : throw node.Error($"'{SentencePieceModel.Printable(text)}' is not in the vocabulary");
        }
        string? chat = null;
        if (root.Get("chat_template") is { } ct)
        {
            if (ct.Kind == JsonValueKind.Array)
            {
                // Several named templates: transformers uses "default" unless told otherwise.
                foreach (var item in ct.Items())
                    if (item.Require("name").String() == "default") chat = item.Require("template").String();
            }
            else chat = ct.String();
        }
        return new Settings
        {
            Bos = Token("bos_token"),
            Eos = Token("eos_token"),
            Pad = Token("pad_token"),
            Unk = Token("unk_token"),
            AddBos = root.Get("add_bos_token")?.Bool(),
            AddEos = root.Get("add_eos_token")?.Bool(),
            ChatTemplate = chat,
        };
    }

    /// <summary>
    /// tokenizer_config.json first, then the post_processor template, then the defaults: byte-level BPE has no BOS/EOS
    /// unless told, SentencePiece-style uses &lt;s&gt;/&lt;/s&gt; when present, as SentencePiece does.
    /// </summary>
    private static TokenVocabulary Resolve(TokenVocabulary v, Dictionary<string, int> ids, Template template, Settings s, string source, string configSource)
    {
        bool sp = v.Kind == VocabularyKind.SentencePiece;
        int Lookup(string piece) => ids.TryGetValue(piece, out int id) ? id : -1;
        int bos = s.Bos ?? (template.Bos >= 0 ? template.Bos : sp ? Lookup("<s>") : -1);
        int eos = s.Eos ?? (template.Eos >= 0 ? template.Eos : sp ? Lookup("</s>") : -1);
        var resolved = v with
        {
            BosId = bos,
            EosId = eos,
            PadId = s.Pad ?? -1,
            UnkId = s.Unk ?? v.UnkId,
            AddBos = s.AddBos ?? template.Bos >= 0,
            AddEos = s.AddEos ?? template.Eos >= 0,
            ChatTemplate = s.ChatTemplate,
        };
        CheckAddFlags(resolved, s.AddBos is not null || s.AddEos is not null ? configSource : source);
        return resolved;
    }

    private static void CheckAddFlags(TokenVocabulary v, string source)
    {
        if (v.AddBos && v.BosId < 0) throw new ModelFormatException(source, "add_bos_token is true, but no BOS token is given", key: "add_bos_token");
        if (v.AddEos && v.EosId < 0) throw new ModelFormatException(source, "add_eos_token is true, but no EOS token is given", key: "add_eos_token");
    }
}
