using System.Text;
using System.Text.Json.Nodes;
using Elongate.Common;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Tokenization;
using Elongate.Tokenization;

namespace Elongate.Tests.Formats;

/// <summary>
/// Hugging Face tokenizer.json (+ tokenizer_config.json): llama.cpp's 46 vectors through tokenizer.json files written
/// as each model's own is, a Llama-3-style file by hand, configuration precedence, bad input, and export → import.
/// </summary>
public class HfTokenizerTests
{
    public static TheoryData<string> ByteLevelVocabularies => ["gpt-2", "deepseek-llm", "falcon", "starcoder"];

    private static TokenVocabulary Gguf(string vocab) => GgufVocabularyReader.ReadFile(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));

    private static void AssertVectors(ITokenizer tok, string vocab)
    {
        var vectors = ConformanceVectors.LlamaCpp(vocab);
        var failures = ConformanceVectors.Mismatches(t => tok.Encode(t, addBos: false, addEos: false), vectors);
        Assert.True(failures.Count == 0, $"{failures.Count} of 46 differ:\n" + string.Join('\n', failures));
    }

    [SkippableTheory]
    [MemberData(nameof(ByteLevelVocabularies))]
    public void Model_tokenizer_json_encodes_all_llama_cpp_vectors(string vocab)
    {
        var gguf = Gguf(vocab);
        // deepseek-llm's file is written with [a, b] merge pairs (tokenizers 0.20+), the others with "a b" strings.
        var json = HfTokenizerFiles.ByteLevelFile(gguf, HfTokenizerFiles.PreTokenizerOf(vocab), pairMerges: vocab == "deepseek-llm");
        var bytes = HfTokenizerFiles.Bytes(json);
        Assert.Equal(TokenizerFileKind.Json, TokenizerLoader.Detect(bytes));
        var tok = TokenizerLoader.Load(bytes, "tokenizer.json");
        Assert.IsType<ByteLevelBpe>(tok);
        var v = tok.Vocabulary;
        Assert.Equal(gguf.PreTokenizer, v.PreTokenizer);
        Assert.Equal(gguf.Pieces, v.Pieces);
        Assert.Equal(gguf.Merges, v.Merges);
        for (int i = 0; i < v.Count; i++)
            Assert.Equal(gguf.Types[i] is TokenType.Control or TokenType.UserDefined ? gguf.Types[i] : TokenType.Normal, v.Types[i]);
        AssertVectors(tok, vocab);
    }

    [SkippableTheory]
    [MemberData(nameof(ByteLevelVocabularies))]
    [InlineData("llama-spm")]
    [InlineData("phi-3")]
    public void Export_then_import_keeps_every_id(string vocab)
    {
        var gguf = Gguf(vocab) with { ChatTemplate = "{{ messages }}" };
        Assert.True(HfTokenizerWriter.CanWrite(gguf, out var reason), reason);
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.json"), HfTokenizerWriter.TokenizerJson(gguf));
        File.WriteAllBytes(dir.File("tokenizer_config.json"), HfTokenizerWriter.TokenizerConfigJson(gguf));
        var back = HfTokenizerReader.Read(dir.Path);
        Assert.Equal(gguf.Kind, back.Kind);
        Assert.Equal(gguf.Pieces, back.Pieces);
        // Phi-3's special tokens swallow the whitespace after them (added_tokens' rstrip).
        Assert.Equal(gguf.Strip, back.Strip);
        Assert.Equal(vocab == "phi-3", back.Strip is not null);
        Assert.Equal((gguf.BosId, gguf.EosId, gguf.AddBos, gguf.AddEos, gguf.ChatTemplate), (back.BosId, back.EosId, back.AddBos, back.AddEos, back.ChatTemplate));
        if (gguf.Kind == VocabularyKind.BytePairEncoding)
        {
            Assert.Equal(gguf.Merges, back.Merges);
            Assert.Equal(PreTokenizer.ForName(gguf.PreTokenizer!).Patterns, PreTokenizer.ForName(back.PreTokenizer!).Patterns);
        }
        // Through a folder, as `elongate tokenize --tokenizer DIR` and HfModelLoader read it.
        var tok = TokenizerLoader.Load(dir.Path);
        AssertVectors(tok, vocab);
        var original = TokenizerLoader.FromVocabulary(gguf, "gguf");
        foreach (var (text, _) in ConformanceVectors.LlamaCpp(vocab))
        {
            Assert.Equal(original.Encode(text, true, false, parseSpecial: true), tok.Encode(text, true, false, parseSpecial: true));
            Assert.Equal(original.Decode(original.Encode(text, false, false)), tok.Decode(tok.Encode(text, false, false)));
        }
    }

    [Fact]
    public void Llama3_style_file_with_case_insensitive_contractions_ignore_merges_and_specials()
    {
        var bytes = HfTokenizerFiles.Bytes(HfTokenizerFiles.TinyLlama3());
        var tok = TokenizerLoader.Load(bytes, "tokenizer.json");
        var v = tok.Vocabulary;
        Assert.Equal("llama-bpe", v.PreTokenizer);
        int Id(string piece) => Array.IndexOf(v.Pieces, piece);
        int bos = Id("<|begin_of_text|>"), eot = Id("<|eot_id|>");
        Assert.Equal((bos, -1, true, false), (v.BosId, v.EosId, v.AddBos, v.AddEos));
        Assert.Equal(TokenType.Control, v.Types[eot]);
        Assert.Contains(eot, v.EndOfGenerationIds());

        // ignore_merges: "Ġhello" is in the vocabulary but no merge makes it; the word is emitted whole.
        Assert.Equal([bos, Id("Ġhello")], tok.Encode(" hello", addBos: true, addEos: false));
        Assert.Equal([Id("he"), Id("llo")], tok.Encode("hello", false, false));
        // (?i:'s|…) splits "'S" off like "'s", as llama.cpp's spelled-out cases do.
        Assert.Equal(["IT", "'S", " it", "'s"], ((ByteLevelBpe)tok).PreTokenizer.Split("IT'S it's"));
        Assert.Equal([Id("I"), Id("T"), Id("'"), Id("S"), Id("Ġ"), Id("i"), Id("t"), Id("'s")], tok.Encode("IT'S it's", false, false));

        // Special tokens are cut out only when asked; otherwise their text is encoded as bytes.
        Assert.Equal([Id("Ġthe"), eot, Id("Ġin")], tok.Encode(" the<|eot_id|> in", false, false, parseSpecial: true));
        var plain = tok.Encode("<|eot_id|>", false, false);
        Assert.DoesNotContain(eot, plain);
        Assert.Equal("<|eot_id|>", tok.Decode(plain));
    }

    [Fact]
    public void Tokenizer_config_takes_precedence_and_chat_template_jinja_wins()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("tokenizer.json"), HfTokenizerFiles.Bytes(HfTokenizerFiles.TinyLlama3()));
        var v = HfTokenizerReader.Read(dir.File("tokenizer.json"));
        int Id(string piece) => Array.IndexOf(v.Pieces, piece);
        Assert.Null(v.ChatTemplate);

        File.WriteAllText(dir.File("tokenizer_config.json"), """
            {"add_bos_token": false, "add_eos_token": true,
             "bos_token": {"__type": "AddedToken", "content": "<|begin_of_text|>", "lstrip": false},
             "eos_token": "<|eot_id|>", "pad_token": "<|reserved_special_token_0|>", "unk_token": null,
             "chat_template": [{"name": "tool_use", "template": "tools"}, {"name": "default", "template": "{{ bos_token }}"}]}
            """);
        v = HfTokenizerReader.Read(dir.Path);
        Assert.Equal((Id("<|begin_of_text|>"), Id("<|eot_id|>"), Id("<|reserved_special_token_0|>")), (v.BosId, v.EosId, v.PadId));
        Assert.Equal((false, true), (v.AddBos, v.AddEos));
        Assert.Equal("{{ bos_token }}", v.ChatTemplate);
        var tok = TokenizerLoader.Load(dir.File("tokenizer.json"));
        Assert.Equal([Id("Ġthe"), Id("<|eot_id|>")], tok.Encode(" the", addBos: v.AddBos, addEos: v.AddEos));

        File.WriteAllText(dir.File("chat_template.jinja"), "{% for m in messages %}{{ m.content }}{% endfor %}");
        Assert.Equal("{% for m in messages %}{{ m.content }}{% endfor %}", HfTokenizerReader.Read(dir.Path).ChatTemplate);

        // A config naming a token the vocabulary lacks is an error naming the config file and key.
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"eos_token": "</s>"}""");
        var e = Assert.Throws<ModelFormatException>(() => HfTokenizerReader.Read(dir.Path));
        Assert.Equal(dir.File("tokenizer_config.json"), e.FilePath);
        Assert.Equal("eos_token", e.Key);

        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_eos_token": true}""");
        e = Assert.Throws<ModelFormatException>(() => HfTokenizerReader.Read(dir.Path));
        Assert.Equal("add_eos_token", e.Key);
    }

    [SkippableFact]
    public void Tokenizer_config_completes_a_tokenizer_model_folder()
    {
        using var dir = new TempDir();
        File.Copy(Fixtures.Path("tokenizers/tokenizer.model"), dir.File("tokenizer.model"));
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"add_bos_token": false, "add_eos_token": true, "chat_template": "x"}""");
        // A tokenizer.json beside it is ignored: tokenizer.model is the exact source.
        File.WriteAllText(dir.File("tokenizer.json"), "{ not json");
        var tok = TokenizerLoader.Load(dir.Path);
        Assert.IsType<SentencePieceBpe>(tok);
        Assert.Equal((false, true, "x"), (tok.Vocabulary.AddBos, tok.Vocabulary.AddEos, tok.Vocabulary.ChatTemplate));
        Assert.Equal([306, 4658, 2], tok.Encode("I believe", tok.Vocabulary.AddBos, tok.Vocabulary.AddEos));
    }

    private static ModelFormatException Reject(JsonNode json, string? key)
    {
        var e = Assert.Throws<ModelFormatException>(() => TokenizerLoader.Load(HfTokenizerFiles.Bytes(json), "bad/tokenizer.json"));
        Assert.Equal("bad/tokenizer.json", e.FilePath);
        Assert.StartsWith("bad/tokenizer.json", e.Message);
        Assert.Equal(key, e.Key);
        return e;
    }

    [Fact]
    public void Bad_input_is_a_format_error_naming_the_json_path()
    {
        JsonObject Tiny() => HfTokenizerFiles.TinyLlama3();
        JsonObject Model(JsonObject j) => j["model"]!.AsObject();

        var gap = Tiny();
        Model(gap)["vocab"]!.AsObject().Remove("Ġt");
        var e = Reject(gap, "model.vocab");
        Assert.Contains("no token has id 256", e.Message);

        var unknownPiece = Tiny();
        Model(unknownPiece)["merges"]!.AsArray().Insert(1, "h zz");
        e = Reject(unknownPiece, "model.merges[1]");
        Assert.Contains("'zz' is not in the vocabulary", e.Message);

        var notAPair = Tiny();
        Model(notAPair)["merges"]!.AsArray().Add("a b c");
        Reject(notAPair, "model.merges[9]");

        var duplicateId = Tiny();
        Model(duplicateId)["vocab"]!["Ġhello"] = 3;
        e = Reject(duplicateId, "model.vocab[\"Ġhello\"]");
        Assert.Contains("id 3", e.Message);

        var addedClash = Tiny();
        addedClash["added_tokens"]![0]!["id"] = 5;
        Reject(addedClash, "added_tokens[0].id");

        var whitespace = Tiny();
        whitespace["pre_tokenizer"] = new JsonObject { ["type"] = "Whitespace" };
        e = Reject(whitespace, "pre_tokenizer.type");
        Assert.Contains("'Whitespace'", e.Message);

        var nested = Tiny();
        nested["pre_tokenizer"]!["pretokenizers"]![1]!["type"] = "Metaspace";
        Reject(nested, "pre_tokenizer.pretokenizers[1].type");

        var otherRegex = Tiny();
        otherRegex["pre_tokenizer"]!["pretokenizers"]![0]!["pattern"]!["Regex"] = @"\p{L}+|\p{N}+";
        e = Reject(otherRegex, "pre_tokenizer");
        Assert.Contains("match none of llama.cpp's", e.Message);

        var removed = Tiny();
        removed["pre_tokenizer"]!["pretokenizers"]![0]!["behavior"] = "Removed";
        Reject(removed, "pre_tokenizer.pretokenizers[0].behavior");

        var prefixSpace = Tiny();
        prefixSpace["pre_tokenizer"]!["pretokenizers"]![1]!["add_prefix_space"] = true;
        Reject(prefixSpace, "pre_tokenizer.pretokenizers[1].add_prefix_space");

        var wordPiece = Tiny();
        Model(wordPiece)["type"] = "WordPiece";
        e = Reject(wordPiece, "model.type");
        Assert.Contains("'WordPiece'", e.Message);

        var unigram = Tiny();
        Model(unigram)["type"] = "Unigram";
        Reject(unigram, "model.type");

        var nfc = Tiny();
        nfc["normalizer"] = new JsonObject { ["type"] = "NFC" };
        Reject(nfc, "normalizer.type");

        var dropout = Tiny();
        Model(dropout)["dropout"] = 0.1;
        Reject(dropout, "model.dropout");

        var wrongType = Tiny();
        Model(wrongType)["vocab"] = new JsonArray(1, 2);
        e = Reject(wrongType, "model.vocab");
        Assert.Contains("must be an object", e.Message);

        var noModel = Tiny();
        noModel.Remove("model");
        Reject(noModel, "model");

        var decoder = Tiny();
        decoder["decoder"] = new JsonObject { ["type"] = "Metaspace" };
        Reject(decoder, "decoder.type");

        var wrongMerges = Tiny();
        Model(wrongMerges)["ignore_merges"] = false;
        // Llama 3's expression without ignore_merges is llama.cpp's "smaug-bpe": accepted, under that name.
        Assert.Equal("smaug-bpe", TokenizerLoader.Load(HfTokenizerFiles.Bytes(wrongMerges), "t.json").Vocabulary.PreTokenizer);

        foreach (var text in new[] { "{", "{\"model\": }", "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}} trailing", "{\"a\":\"\\uD800\"}" })
        {
            var bad = Assert.Throws<ModelFormatException>(() => HfTokenizerReader.Read(Encoding.UTF8.GetBytes(text), "bad/tokenizer.json"));
            Assert.Equal("bad/tokenizer.json", bad.FilePath);
        }
        var lone = Assert.Throws<ModelFormatException>(() => HfTokenizerReader.Read(
            Encoding.UTF8.GetBytes("{\"model\": {\"type\": \"BPE\", \"vocab\": {\"\\uD800\": 0}, \"merges\": []}}"), "lone.json"));
        Assert.Equal("model.vocab", lone.Key);
    }

    [SkippableFact]
    public void SentencePiece_style_file_that_is_not_a_converted_model_is_refused()
    {
        var gguf = Gguf("llama-spm");
        var json = JsonNode.Parse(HfTokenizerWriter.TokenizerJson(gguf))!.AsObject();
        var merges = json["model"]!["merges"]!.AsArray();
        // Drop one split of a piece: SentencePiece would still make the piece that way, the tokenizers library not.
        merges.RemoveAt(merges.Count - 1);
        var e = Reject(json, "model.merges");
        Assert.Contains("tokenizer.model", e.Message);

        json = JsonNode.Parse(HfTokenizerWriter.TokenizerJson(gguf))!.AsObject();
        json["normalizer"]!["normalizers"]!.AsArray().RemoveAt(0);
        e = Reject(json, "normalizer");
        Assert.Contains("tokenizer.model", e.Message);
    }

    [SkippableFact]
    public void Hf_folder_with_tokenizer_json_converts_to_gguf_with_the_bpe_vocabulary()
    {
        var vocab = Gguf("gpt-2") with { BosId = 50256, EosId = 50256, AddBos = false, ChatTemplate = "t" };
        var model = HfTestSupport.RandomModel(HfTestSupport.SmallConfig(tied: true) with { VocabSize = vocab.Count }, seed: 3);
        using var dir = new TempDir();
        var hf = dir.File("hf");
        ModelLoader.Save(model.With(vocabulary: vocab), hf, "f32");
        Assert.True(File.Exists(Path.Combine(hf, "tokenizer.json")) && File.Exists(Path.Combine(hf, "tokenizer_config.json")));
        Assert.False(File.Exists(Path.Combine(hf, "tokenizer.model")));

        var loaded = ModelLoader.Load(hf);
        Assert.NotNull(loaded.Vocabulary);
        var gguf = dir.File("m.gguf");
        ModelLoader.Save(loaded, gguf, "f32");
        var back = GgufVocabularyReader.ReadFile(gguf);
        Assert.Equal(VocabularyKind.BytePairEncoding, back.Kind);
        Assert.Equal(vocab.Pieces, back.Pieces);
        Assert.Equal(vocab.Merges, back.Merges);
        Assert.Equal("gpt-2", back.PreTokenizer);
        Assert.Equal((vocab.BosId, vocab.EosId, vocab.AddBos, "t"), (back.BosId, back.EosId, back.AddBos, back.ChatTemplate));
        AssertVectors(TokenizerLoader.Load(gguf), "gpt-2");
    }

    [Fact]
    public void Hf_folder_vocabulary_is_padded_to_vocab_size_and_a_larger_tokenizer_is_an_error()
    {
        var json = HfTokenizerFiles.Bytes(HfTokenizerFiles.TinyLlama3());
        int count = TokenizerLoader.Load(json, "t").Vocabulary.Count;
        using var dir = new TempDir();
        var model = HfTestSupport.RandomModel(HfTestSupport.SmallConfig(tied: true) with { VocabSize = count + 3 }, seed: 5);
        HfModelWriter.Write(model, dir.Path);
        File.WriteAllBytes(dir.File("tokenizer.json"), json);
        var loaded = ModelLoader.Load(dir.Path);
        Assert.Equal(count + 3, loaded.Vocabulary!.Count);
        Assert.Equal($"[PAD{count + 2}]", loaded.Vocabulary.Pieces[^1]);
        Assert.Equal(TokenType.Unused, loaded.Vocabulary.Types[^1]);

        var small = HfTestSupport.RandomModel(HfTestSupport.SmallConfig(tied: true) with { VocabSize = count - 1 }, seed: 5);
        HfModelWriter.Write(small, dir.Path);
        var e = Assert.Throws<ModelFormatException>(() => ModelLoader.Load(dir.Path));
        Assert.Equal("vocab_size", e.Key);
    }

    [Fact]
    public void Detects_json_but_not_a_sentencepiece_model_that_starts_like_it()
    {
        Assert.Equal(TokenizerFileKind.Json, TokenizerLoader.Detect("\uFEFF \n{\n  \"version\""u8.ToArray()));
        Assert.Equal(TokenizerFileKind.Json, TokenizerLoader.Detect("{}"u8));
        // A ModelProto whose first piece message is 123 bytes long begins "\n{" followed by the piece's tag.
        Assert.NotEqual(TokenizerFileKind.Json, TokenizerLoader.Detect([0x0A, 0x7B, 0x0A, 0x05, (byte)'<', (byte)'u']));
    }
}
