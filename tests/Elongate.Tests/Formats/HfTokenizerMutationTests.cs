using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Elongate.Common;
using Elongate.Formats;

namespace Elongate.Tests.Formats;

/// <summary>
/// Seeded corruption of a small tokenizer.json: half byte mutations (<see cref="HeaderMutator"/>), half JSON-token
/// mutations (a string, number, literal or bracket replaced, removed or repeated). Every mutant must load and encode,
/// or fail with <see cref="ModelFormatException"/>; never another exception, a hang or a huge allocation.
/// </summary>
public partial class HfTokenizerMutationTests
{
    private static readonly string[] Replacements =
    [
        "-1", "0", "1", "3", "255", "266", "2147483647", "2147483648", "-2147483649", "1e308", "0.5", "null", "true", "false",
        "\"\"", "\"BPE\"", "\"WordPiece\"", "\"Sequence\"", "\"Split\"", "\"ByteLevel\"", "\"Isolated\"", "\"Ġ t\"", "\"h e\"",
        "\"<|eot_id|>\"", "\"\\uD800\"", "\"a b c\"", "[]", "{}", "[\"h\", \"e\"]", "{\"type\": \"NFC\"}", ",", ":", "{", "}", "[", "]",
    ];

    [GeneratedRegex(@"""(?:\\.|[^""\\])*""|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|[{}\[\]:,]")]
    private static partial Regex JsonToken();

    private static byte[] MutateTokens(string json, Random rng)
    {
        var tokens = JsonToken().Matches(json);
        var sb = new StringBuilder(json);
        int count = 1 + rng.Next(3);
        // Edit from the end so earlier token positions stay valid.
        foreach (var m in Enumerable.Range(0, count).Select(_ => tokens[rng.Next(tokens.Count)]).DistinctBy(m => m.Index).OrderByDescending(m => m.Index))
        {
            switch (rng.Next(4))
            {
                case 0: sb.Remove(m.Index, m.Length); break;
                case 1: sb.Insert(m.Index, m.Value); break;
                default: sb.Remove(m.Index, m.Length).Insert(m.Index, Replacements[rng.Next(Replacements.Length)]); break;
            }
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Fact]
    public void Two_thousand_mutations_of_a_small_tokenizer_json_load_or_fail_cleanly() =>
        Run(HfTokenizerFiles.Bytes(HfTokenizerFiles.TinyLlama3()), 2000, seed: 20261203, minLoaded: 20);

    /// <summary>The SentencePiece-style path (Llama 2 layout), on llama2.c's 512-piece vocabulary written as tokenizer.json.</summary>
    [SkippableFact]
    public void Mutations_of_a_sentencepiece_style_tokenizer_json_load_or_fail_cleanly()
    {
        var vocab = TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512).Vocabulary;
        // Its checks (every split of a piece listed, merges of a piece adjacent) reject nearly every changed merge.
        Run(HfTokenizerWriter.TokenizerJson(vocab), 1000, seed: 512, minLoaded: 1);
    }

    private static void Run(byte[] valid, int count, int seed, int minLoaded)
    {
        var text = Encoding.UTF8.GetString(valid);
        var rng = new Random(seed);
        int rejected = 0, loaded = 0;
        var total = Stopwatch.StartNew();
        for (int i = 0; i < count; i++)
        {
            var mutant = i % 2 == 0 ? HeaderMutator.Mutate(valid, valid.Length, rng) : MutateTokens(text, rng);
            var sw = Stopwatch.StartNew();
            try
            {
                var tok = TokenizerLoader.Load(mutant, "mutant.json");
                var ids = tok.Encode("Hello the world, IT'S 12345 <|eot_id|> hello", addBos: tok.Vocabulary.AddBos, addEos: tok.Vocabulary.AddEos, parseSpecial: true);
                tok.Decode(ids);
                loaded++;
            }
            catch (ModelFormatException e)
            {
                Assert.Equal("mutant.json", e.FilePath);
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation #{i} threw {e.GetType().Name} instead of ModelFormatException: {e.Message}\n{e.StackTrace}\n--- mutant:\n{Encoding.UTF8.GetString(mutant)}");
            }
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(2), $"mutation #{i} took {sw.Elapsed.TotalMilliseconds:F0} ms");
        }
        // Most mutants break the file; some (a changed piece, a merge dropped) are still valid tokenizers.
        Assert.InRange(rejected, count / 2, count);
        Assert.True(loaded >= minLoaded, $"only {loaded} mutants loaded: the mutations do not exercise the accepting path");
        Assert.True(total.Elapsed < TimeSpan.FromSeconds(60), $"took {total.Elapsed}");
    }
}
