using System.Diagnostics;
using Elongate.Formats;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Seeded corruption (<see cref="HeaderMutator"/>) of a small byte-level BPE vocabulary GGUF through the reader and the
/// encoder: every mutant must load (and then encode) or fail with a ModelFormatException, nothing else.
/// </summary>
public class BpeVocabularyMutationTests
{
    /// <summary>The 256 byte pieces, a few merges forming "the", " the", "he", a control and a user-defined token.</summary>
    internal static TokenVocabulary SmallVocabulary()
    {
        var pieces = new List<string>();
        for (int b = 0; b < 256; b++) pieces.Add(ByteLevel.ByteToChar((byte)b).ToString());
        pieces.AddRange(["he", "the", "Ġt", "Ġthe", "<|endoftext|>", "<tool>"]);
        var types = Enumerable.Repeat(TokenType.Normal, pieces.Count).ToArray();
        types[^2] = TokenType.Control;
        types[^1] = TokenType.UserDefined;
        return new TokenVocabulary
        {
            Pieces = [.. pieces], Scores = new float[pieces.Count], Types = types, Kind = VocabularyKind.BytePairEncoding,
            Merges = ["Ġ t", "h e", "Ġt he", "t he"], PreTokenizer = "gpt-2", BosId = pieces.Count - 2, EosId = pieces.Count - 2, UnkId = -1, AddBos = false,
        };
    }

    [Fact]
    public void TheSmallVocabularyEncodesByItsMerges()
    {
        ITokenizer tok = new ByteLevelBpe(SmallVocabulary());
        int the = 257, spaceThe = 259, tool = 261;
        Assert.Equal([the, spaceThe, spaceThe], tok.Encode("the the the", false, false));
        // Pieces 0..255 are the bytes in order; a user-defined token is cut out even without special parsing.
        Assert.Equal(['x', tool], tok.Encode("x<tool>", false, false));
        Assert.Equal("the the<tool>", tok.Decode(tok.Encode("the the<tool>", false, false)));
    }

    [Fact]
    public void TenThousandHeaderMutations()
    {
        var w = new GgufWriter();
        w.Add("general.architecture", "llama");
        foreach (var (k, v) in GgufVocabularyWriter.Metadata(SmallVocabulary())) w.Add(k, v);
        var valid = w.ToArray();
        var sw = Stopwatch.StartNew();
        int rejected = HeaderMutator.Run(valid, valid.Length, 10_000, seed: 20261201, bytes =>
        {
            var tok = TokenizerLoader.Load(bytes, "mutant.gguf");
            tok.Decode(tok.Encode("the theory of <tool> and <|endoftext|> ünïcödé", addBos: false, addEos: false, parseSpecial: true));
        });
        Assert.InRange(rejected, 3_000, 10_000);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
    }
}
