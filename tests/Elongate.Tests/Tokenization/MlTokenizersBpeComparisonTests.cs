using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;
using Xunit.Abstractions;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Evaluates Microsoft.ML.Tokenizers 2.0.1's byte-level <c>BpeTokenizer</c> (<see cref="MlTokenizersByteLevelBpe"/>) on
/// llama.cpp's vectors for the four byte-level BPE vocabularies and on a book, as TokenizerComparisonTests does for its
/// LlamaTokenizer. It agrees everywhere it can be configured (<see cref="KnownEncodeDisagreements"/> is empty); the
/// tests fail if that changes either way. Its speed is measured by the bench (`tokenize`); the verdict is in
/// TokenizerLoader's remarks.
/// </summary>
public class MlTokenizersBpeComparisonTests(ITestOutputHelper output)
{
    /// <summary>"vocabulary/split #vector" → what ML.Tokenizers 2.0.1 produces instead. None as of 2026-12-01.</summary>
    public static readonly IReadOnlyDictionary<string, string> KnownEncodeDisagreements = new Dictionary<string, string>();

    public static TheoryData<string, MlTokenizersByteLevelBpe.Split> Configurations => new()
    {
        // gpt-2 is the only one-expression pre-tokenizer: ML.Tokenizers' own RegexPreTokenizer can run it.
        { "gpt-2", MlTokenizersByteLevelBpe.Split.MlRegex },
        { "gpt-2", MlTokenizersByteLevelBpe.Split.Elongate },
        { "deepseek-llm", MlTokenizersByteLevelBpe.Split.Elongate },
        { "falcon", MlTokenizersByteLevelBpe.Split.Elongate },
        { "starcoder", MlTokenizersByteLevelBpe.Split.Elongate },
    };

    [SkippableTheory]
    [MemberData(nameof(Configurations))]
    public void AgreesOnTheVectorsExceptDocumentedCases(string vocab, MlTokenizersByteLevelBpe.Split split)
    {
        var ml = new MlTokenizersByteLevelBpe(TokenizerLoader.Load(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf")).Vocabulary, split);
        var failures = ConformanceVectors.Mismatches(t => ml.Encode(t, false, false), ConformanceVectors.LlamaCpp(vocab));
        foreach (var f in failures) output.WriteLine(f);
        output.WriteLine($"{ml.Implementation}, {vocab}: {failures.Count} of 46 vectors differ");
        var failedKeys = failures.Select(f => $"{vocab}/{split} {f[..f.IndexOf(' ')]}").Order(StringComparer.Ordinal);
        Assert.Equal(KnownEncodeDisagreements.Keys.Where(k => k.StartsWith($"{vocab}/{split} ", StringComparison.Ordinal)).Order(StringComparer.Ordinal), failedKeys);
    }

    [SkippableTheory]
    [MemberData(nameof(Configurations))]
    public void AgreesWithUsOnABookAndDecodesOurIds(string vocab, MlTokenizersByteLevelBpe.Split split)
    {
        // Ours equals llama.cpp on every book (TokenizerVsLlamaCppTests; bench `tokenize` compares all 11 whole books
        // for ML.Tokenizers too).
        var ours = TokenizerLoader.Load(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf"));
        var ml = new MlTokenizersByteLevelBpe(ours.Vocabulary, split);
        var text = Encoding.UTF8.GetString(File.ReadAllBytes(Fixtures.Path("corpus/frankenstein.txt")));
        var ids = ours.Encode(text, false, false);
        Assert.Equal(ids, ml.Encode(text, false, false));
        Assert.Equal(text, ml.Decode(ids));
    }

    [SkippableFact]
    public void CannotRunMultiExpressionPreTokenizersOnItsOwn()
    {
        // deepseek-llm applies six expressions in turn, falcon three, starcoder two; RegexPreTokenizer takes one.
        var v = TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-falcon.gguf")).Vocabulary;
        Assert.Throws<NotSupportedException>(() => new MlTokenizersByteLevelBpe(v, MlTokenizersByteLevelBpe.Split.MlRegex));
    }
}
