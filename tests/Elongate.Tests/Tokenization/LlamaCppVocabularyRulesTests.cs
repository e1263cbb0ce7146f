using System.Text;
using Elongate.Formats;
using Elongate.Tokenization;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Behaviour llama.cpp adds on top of what a GGUF vocabulary says, pinned with the ids llama.cpp (LLamaSharp 0.30.0)
/// gave in TokenizerVsLlamaCppTests, so it stays checked where the native library cannot run; and the two merge paths
/// of <see cref="ByteLevelBpe"/>, which must agree.
/// </summary>
public class LlamaCppVocabularyRulesTests
{
    [SkippableFact]
    public void EndOfGenerationPiecesAreControlTokens()
    {
        // Phi-3's file types "</s>" (id 2) UserDefined, but llama.cpp makes every end-of-generation piece a control
        // token: as plain text it is "</", "s", ">" (829 29879 29958) — it was id 2 here before — and with
        // parse_special it is id 2, taking the whitespace after it (Phi-3's RSTRIP).
        var phi3 = TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));
        Assert.Equal(TokenType.Control, phi3.Vocabulary.Types[2]);
        Assert.Equal([263, 529, 29879, 29958, 289, 1533, 29879, 29958, 29871, 274], phi3.Encode("a <s> b </s>  c", false, false));
        Assert.Equal([263, 29871, 1, 29871, 289, 29871, 2, 274], phi3.Encode("a <s> b </s>  c", false, false, parseSpecial: true));
        Assert.Contains(2, phi3.Vocabulary.EndOfGenerationIds());
        // Where the file already says Control nothing changes.
        var spm = TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf"));
        Assert.Equal(TokenType.Control, spm.Vocabulary.Types[2]);
    }

    public static TheoryData<string> BpeVocabularies => ["gpt-2", "deepseek-llm", "falcon", "starcoder"];

    [SkippableTheory]
    [MemberData(nameof(BpeVocabularies))]
    public void ScanMergingGivesThePriorityQueuesResult(string vocab)
    {
        // Short words merge in place (ScanMerging), long ones through the queue; with the cache off, both paths must
        // give the same ids on a book slice, the 46 vectors and long runs.
        var path = Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf");
        var scan = (ByteLevelBpe)TokenizerLoader.Load(path);
        var queue = (ByteLevelBpe)TokenizerLoader.Load(path);
        scan.Caching = queue.Caching = false;
        queue.ScanMerging = false;
        var book = Encoding.UTF8.GetString(File.ReadAllBytes(Fixtures.Path("corpus/ulysses.txt")));
        var texts = ConformanceVectors.LlamaCpp(vocab).Select(v => v.Text).Append(book[..200_000])
            .Append(new string('=', 300)).Append(string.Concat(Enumerable.Repeat("ab", 100))).Append("x" + new string(' ', 70) + "y")
            .Append(string.Concat(Enumerable.Repeat("\u00e9\u4e2d", 40)));
        foreach (var t in texts)
            Assert.Equal(queue.Encode(t, false, false), scan.Encode(t, false, false));
    }
}
