using Elongate.Common;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Tests.Formats;

namespace Elongate.Tests.Tokenization;

/// <summary>Byte-level BPE vocabularies through GGUF: written and read back unchanged, and bad keys named in errors.</summary>
public class BpeVocabularyFileTests
{
    [SkippableTheory]
    [InlineData("gpt-2")]
    [InlineData("deepseek-llm")]
    [InlineData("phi-3")]
    public void WrittenToGgufAndReadBackGivesIdenticalIds(string vocab)
    {
        var original = GgufVocabularyReader.ReadFile(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));
        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, "vocab.gguf");
        GgufVocabularyWriter.Save(path, original);
        var back = GgufVocabularyReader.ReadFile(path);

        Assert.Equal(original.Kind, back.Kind);
        Assert.Equal(original.Pieces, back.Pieces);
        Assert.Equal(original.Types, back.Types);
        Assert.Equal(original.Merges, back.Merges);
        Assert.Equal(original.PreTokenizer, back.PreTokenizer);
        Assert.Equal((original.BosId, original.EosId, original.UnkId, original.EotId, original.PadId, original.AddBos, original.AddEos),
            (back.BosId, back.EosId, back.UnkId, back.EotId, back.PadId, back.AddBos, back.AddEos));
        Assert.Equal(original.ChatTemplate, back.ChatTemplate);

        var a = TokenizerLoader.FromVocabulary(original, "original");
        var b = TokenizerLoader.Load(path);
        foreach (var (text, ids) in ConformanceVectors.LlamaCpp(vocab))
        {
            Assert.Equal(ids, a.Encode(text, false, false));
            Assert.Equal(ids, b.Encode(text, false, false));
        }
    }

    [SkippableFact]
    public void ReadsTheSpecialIdsAndFlagsOfEachFile()
    {
        var gpt2 = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf"));
        Assert.Equal(VocabularyKind.BytePairEncoding, gpt2.Kind);
        Assert.Equal("gpt-2", gpt2.PreTokenizer);
        Assert.Equal(50257, gpt2.Count);
        Assert.Equal(50000, gpt2.Merges!.Length);
        Assert.Equal((50256, 50256, -1), (gpt2.BosId, gpt2.EosId, gpt2.UnkId));
        Assert.False(gpt2.AddBos); // gpt-2 is not of the Llama 3 family, and the file does not say
        Assert.Contains(50256, gpt2.EndOfGenerationIds()); // <|endoftext|>

        var deepseek = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-deepseek-llm.gguf"));
        Assert.Equal((100000, 100001, 100001, true), (deepseek.BosId, deepseek.EosId, deepseek.PadId, deepseek.AddBos));

        var phi3 = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));
        Assert.Equal(VocabularyKind.SentencePiece, phi3.Kind);
        Assert.StartsWith("{{ bos_token }}{% for message in messages %}", phi3.ChatTemplate);
        int end = Array.IndexOf(phi3.Pieces, "<|end|>");
        Assert.True(end > 0);
        Assert.Contains(end, phi3.EndOfGenerationIds());
        Assert.Contains(32000, phi3.EndOfGenerationIds()); // eos <|endoftext|>
    }

    [SkippableFact]
    public void SpecialTokensAreParsedOnlyWhenAsked()
    {
        var phi3 = TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));
        int user = Array.IndexOf(phi3.Vocabulary.Pieces, "<|user|>"), end = Array.IndexOf(phi3.Vocabulary.Pieces, "<|end|>");
        var asText = phi3.Encode("<|user|>Hi<|end|>", false, false);
        Assert.DoesNotContain(user, asText);
        Assert.DoesNotContain(end, asText);
        var parsed = phi3.Encode("<|user|>Hi<|end|>", false, false, parseSpecial: true);
        Assert.Equal(user, parsed[0]);
        Assert.Equal(end, parsed[^1]);
        // Between special tokens the text is encoded on its own, dummy prefix included (llama.cpp): "▁Hi".
        Assert.Equal(phi3.Encode("Hi", false, false), parsed[1..^1]);
        Assert.Equal("Hi", phi3.Decode(parsed));
        // Phi-3's special tokens swallow the whitespace after them (llama.cpp's RSTRIP by model name), so a rendered
        // chat turn is the tokens with "▁Hi" between them, the newlines gone.
        int assistant = Array.IndexOf(phi3.Vocabulary.Pieces, "<|assistant|>");
        Assert.Equal([user, .. phi3.Encode("Hi", false, false), end, assistant],
            phi3.Encode("<|user|>\nHi<|end|>\n<|assistant|>\n", false, false, parseSpecial: true));

        var gpt2 = TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf"));
        Assert.Equal([50256], gpt2.Encode("<|endoftext|>", false, false, parseSpecial: true));
        Assert.True(gpt2.Encode("<|endoftext|>", false, false).Length > 1);
        Assert.Equal("<|endoftext|>", gpt2.Decode(gpt2.Encode("<|endoftext|>", false, false)));
    }

    public static TheoryData<string, object, string> BadKeys => new()
    {
        { "tokenizer.ggml.pre", "no-such-pre", "unknown pre-tokenizer 'no-such-pre'" },
        { "tokenizer.ggml.bos_token_id", 999_999u, "token id 999999 is outside the 50257-token vocabulary" },
        { "tokenizer.ggml.eot_token_id", 50257u, "token id 50257 is outside the 50257-token vocabulary" },
        { "tokenizer.ggml.model", "wordpiece", "tokenizer 'wordpiece' is not supported" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadKeys))]
    public void BadKeysAreNamedInTheError(string key, object value, string message)
    {
        var e = Assert.Throws<ModelFormatException>(() => LoadMutated(m => Set(m, key, value)));
        Assert.Equal(key, e.Key);
        Assert.Contains(message, e.Message);
    }

    [SkippableFact]
    public void AMergeNamingAMissingTokenIsNamed()
    {
        var e = Assert.Throws<ModelFormatException>(() => LoadMutated(m =>
        {
            var merges = (string[])m.First(kv => kv.Key == "tokenizer.ggml.merges").Value;
            merges = (string[])merges.Clone();
            merges[7] = "Ġt zzzzqqq";
            Set(m, "tokenizer.ggml.merges", merges);
        }));
        Assert.Equal("tokenizer.ggml.merges", e.Key);
        Assert.Contains("merge 7 uses 'zzzzqqq', which is not in the vocabulary", e.Message);

        e = Assert.Throws<ModelFormatException>(() => LoadMutated(m =>
        {
            var merges = (string[])((string[])m.First(kv => kv.Key == "tokenizer.ggml.merges").Value).Clone();
            merges[3] = "nospace";
            Set(m, "tokenizer.ggml.merges", merges);
        }));
        Assert.Contains("merge 3 'nospace' is not two pieces separated by a space", e.Message);

        e = Assert.Throws<ModelFormatException>(() => LoadMutated(m => m.RemoveAll(kv => kv.Key == "tokenizer.ggml.merges")));
        Assert.Equal("tokenizer.ggml.merges", e.Key);
    }

    private static void Set(List<KeyValuePair<string, object>> meta, string key, object value)
    {
        int i = meta.FindIndex(kv => kv.Key == key);
        if (i >= 0) meta[i] = new(key, value); else meta.Add(new(key, value));
    }

    private static ITokenizer LoadMutated(Action<List<KeyValuePair<string, object>>> mutate)
    {
        var vocab = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf"));
        var meta = GgufVocabularyWriter.Metadata(vocab);
        mutate(meta);
        var w = new GgufWriter();
        w.Add("general.architecture", "gpt2");
        foreach (var (k, v) in meta) w.Add(k, v);
        return TokenizerLoader.Load(w.ToArray(), "mutant.gguf");
    }
}
