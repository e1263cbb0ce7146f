using Elongate.Formats;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// llama.cpp's own tokenizer test vectors (models/ggml-vocab-*.gguf with .inp/.out, fixtures PROVENANCE.md): the same
/// 46 strings through four byte-level BPE vocabularies with different pre-tokenizers and a SentencePiece vocabulary with
/// added tokens. Every id must match; no tolerance applies to tokenization.
/// </summary>
public class VocabularyConformanceTests
{
    public static TheoryData<string> Vocabularies => ["gpt-2", "deepseek-llm", "falcon", "starcoder", "phi-3", "llama-spm"];

    [SkippableTheory]
    [MemberData(nameof(Vocabularies))]
    public void EncodesAllLlamaCppVectors(string vocab)
    {
        var tok = TokenizerLoader.Load(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));
        var vectors = ConformanceVectors.LlamaCpp(vocab);
        Assert.Equal(46, vectors.Count);
        var failures = ConformanceVectors.Mismatches(t => tok.Encode(t, addBos: false, addEos: false), vectors);
        Assert.True(failures.Count == 0, $"{failures.Count} of 46 differ:\n" + string.Join('\n', failures));
    }

    [SkippableTheory]
    [MemberData(nameof(Vocabularies))]
    public void DecodeInvertsEncodeOnTheVectors(string vocab)
    {
        var tok = TokenizerLoader.Load(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));
        foreach (var (text, _) in ConformanceVectors.LlamaCpp(vocab))
        {
            var ids = tok.Encode(text, addBos: false, addEos: false);
            var back = tok.Decode(ids);
            // SentencePiece drops the dummy prefix again, so text that starts with a space loses nothing either.
            Assert.Equal(text, back);
        }
    }
}
