using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>Our SentencePiece BPE, from every vocabulary source, against outside references.</summary>
public class TokenizerConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TokenizerSources.Names), MemberType = typeof(TokenizerSources))]
    public void LlamaCppVectors(string source)
    {
        var tok = TokenizerSources.Get(source);
        var vectors = ConformanceVectors.LlamaCpp();
        var failures = ConformanceVectors.Mismatches(t => tok.Encode(t, addBos: false, addEos: false), vectors);
        Assert.True(failures.Count == 0, $"{tok.Implementation} via {source}: {failures.Count}/46 vectors differ:\n" + string.Join('\n', failures));
    }

    [SkippableTheory]
    [MemberData(nameof(TokenizerSources.Names), MemberType = typeof(TokenizerSources))]
    public void MetaExamples(string source)
    {
        var tok = TokenizerSources.Get(source);
        var failures = ConformanceVectors.Mismatches(t => tok.Encode(t, addBos: true, addEos: false), ConformanceVectors.Meta);
        Assert.True(failures.Count == 0, $"{tok.Implementation} via {source}:\n" + string.Join('\n', failures));
    }

    [SkippableTheory]
    [MemberData(nameof(TokenizerSources.Names), MemberType = typeof(TokenizerSources))]
    public void VectorsRoundTrip(string source)
    {
        var tok = TokenizerSources.Get(source);
        foreach (var (text, ids) in ConformanceVectors.LlamaCpp())
            Assert.Equal(text, tok.Decode(ids));
    }

    [SkippableTheory]
    [MemberData(nameof(TokenizerSources.Names), MemberType = typeof(TokenizerSources))]
    public void EosAndDefaults(string source)
    {
        var tok = TokenizerSources.Get(source);
        Assert.Equal([1, 306, 4658, 2], tok.Encode("I believe", addBos: true, addEos: true));
        Assert.Equal([1, 306, 4658], tok.Encode("I believe"));
        Assert.Equal("I believe", tok.Decode([1, 306, 4658, 2]));
    }
}
