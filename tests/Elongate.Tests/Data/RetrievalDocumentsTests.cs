using System.Text.Json;
using Elongate.Data;
using Elongate.Evaluation;
using Elongate.Formats;

namespace Elongate.Tests.Data;

/// <summary>The synthetic retrieval documents: deterministic, answers present, distances spread over the length, probe wording kept.</summary>
public sealed class RetrievalDocumentsTests
{
    // Distinct sentences of 6 to 20 words, so a passage is found only where it was put.
    private static readonly string[] Adjectives = ["tired", "young", "old", "quiet", "cheerful", "lost", "proud"];
    private static readonly string[] Nouns = ["mill", "river", "church", "bakery", "bridge", "orchard", "harbour", "market", "forest", "square", "tower"];
    private static readonly List<string> Sentences = RetrievalDocuments.SentencesFrom(string.Join(" ", Enumerable.Range(0, 3000).Select(i =>
        $"The {Adjectives[i % 7]} traveller {i} walked past the {Nouns[i % 11]}" + string.Concat(Enumerable.Repeat(" and then the " + Nouns[(i / 11) % 11], i % 5)) + ".")));

    private static int Words(string s) => s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    /// <summary>
    /// The probes (PasskeyProbe, FirstSentenceEvaluation) take their wording from these constants, so training documents
    /// and probes cannot drift apart; what is pinned here is that wording against its published source: Landmark
    /// Attention's passkey prompt (Mohtashami &amp; Jaggi 2023, as the paper's passkey test) and the first-sentence task.
    /// </summary>
    [Fact]
    public void Wording_is_the_published_probes()
    {
        Assert.Equal("There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.", RetrievalDocuments.PasskeyTaskLine);
        Assert.Equal("The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.", RetrievalDocuments.PasskeyFiller);
        Assert.Equal("What is the pass key? The pass key is", RetrievalDocuments.PasskeyQuestion);
        Assert.Equal("The pass key is 12345. Remember it. 12345 is the pass key.", RetrievalDocuments.PasskeyNeedle(12345));
        Assert.Equal("\n\nQuestion: What is the first sentence of the text above?\nAnswer:", RetrievalDocuments.FirstSentenceInstruction);
    }

    [Fact]
    public void Sentences_are_split_normalized_and_filtered_by_length()
    {
        var s = RetrievalDocuments.SentencesFrom("CHAPTER I\n\nIt was a  dark and\nstormy night. Yes. The rain fell in torrents, said he! Was it 3.5 miles? ");
        Assert.Equal(["CHAPTER I It was a dark and stormy night.", "The rain fell in torrents, said he!", "Was it 3.5 miles?"], s);
    }

    [Fact]
    public void Documents_are_deterministic_for_a_seed_and_differ_across_seeds()
    {
        var a = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 7, MaxLength = 200 });
        var b = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 7, MaxLength = 200 });
        var c = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 8, MaxLength = 200 });
        // Any order gives the same documents: each has its own stream.
        Assert.Equal(a.Documents(0, 30).ToList(), b.Documents(0, 30).Reverse().Reverse().ToList());
        Assert.Equal(a.Document(17), b.Document(17));
        Assert.True(a.Documents(0, 30).Zip(c.Documents(0, 30)).Count(p => p.First.Text == p.Second.Text) < 3);
    }

    [Fact]
    public void Every_kind_holds_its_answer_and_distances_span_the_length()
    {
        const int max = 300;
        var gen = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions
        {
            Seed = 1, MaxLength = max, PasskeyWeight = 1, KeyValueWeight = 1, RepeatedPassageWeight = 1, FirstSentenceWeight = 1, CopyListWeight = 1, RandomPiecesWeight = 1,
        });
        var docs = gen.Documents(0, 960).ToList();
        Assert.Equal("words", gen.Unit);
        foreach (var kind in Enum.GetValues<RetrievalKind>())
        {
            var ofKind = docs.Where(d => d.Kind == kind).ToList();
            Assert.True(ofKind.Count > 80, $"{kind}: {ofKind.Count} documents");
            // Lengths are in [max/4, max] up to one filler sentence short; distances cover near 0 to near the maximum.
            Assert.All(ofKind, d => Assert.InRange(d.Length, max / 4 - 45, max));
            Assert.All(ofKind, d => Assert.Equal(Words(d.Text), d.Length));
            var dist = ofKind.Select(d => d.Distance).ToList();
            if (kind != RetrievalKind.FirstSentence) Assert.True(dist.Min() < 0.15 * max, $"{kind}: shortest distance {dist.Min()}");
            else Assert.True(dist.Min() < 0.3 * max, $"{kind}: shortest distance {dist.Min()}");
            // Fixed parts take room: the passkey's task line (24 words) precedes the needle as in the probe; a lookup's
            // header and the pairs after the queried one count in its distance, and the queried pair is rarely the first.
            // A random-piece copy is half its document: its distances reach half the maximum.
            Assert.True(dist.Max() > (kind switch { RetrievalKind.Passkey or RetrievalKind.RepeatedPassage => 0.75, RetrievalKind.KeyValue => 0.65, RetrievalKind.RandomPieces => 0.45, _ => 0.8 }) * max, $"{kind}: longest distance {dist.Max()}");
            foreach (var d in ofKind) CheckAnswer(d);
        }
    }

    private static void CheckAnswer(RetrievalDocument d)
    {
        var t = d.Text;
        switch (d.Kind)
        {
            case RetrievalKind.Passkey:
                Assert.StartsWith(PasskeyProbe.TaskLine, t);
                Assert.EndsWith($"{PasskeyProbe.Question} {d.Answer}.", t);
                int needle = t.IndexOf(PasskeyProbe.Needle(int.Parse(d.Answer)), StringComparison.Ordinal);
                Assert.True(needle > 0);
                // The distance counts the words from the needle to the answer.
                Assert.Equal(Words(t[needle..^(d.Answer.Length + 1)]), d.Distance);
                break;
            case RetrievalKind.KeyValue:
                var name = t[(t.LastIndexOf("What is the code for ", StringComparison.Ordinal) + 21)..t.LastIndexOf('?')];
                var pair = $"The code for {name} is {d.Answer}.";
                int at = t.IndexOf(pair, StringComparison.Ordinal);
                // The pair once among the others, once again as the query's answer at the end.
                Assert.True(at > 0 && t.IndexOf(pair, at + 1, StringComparison.Ordinal) == t.Length - pair.Length, t);
                Assert.Equal(Words(t[at..^(d.Answer.Length + 1)]), d.Distance);
                break;
            case RetrievalKind.RepeatedPassage:
                Assert.EndsWith(d.Answer, t);
                int first = t.IndexOf(d.Answer, StringComparison.Ordinal);
                Assert.True(first < t.Length - d.Answer.Length);
                // Filler from a random start may hold the passage's sentences too; then the first copy is earlier.
                Assert.True(Words(t[first..^d.Answer.Length]) >= d.Distance && d.Distance >= Words(d.Answer));
                break;
            case RetrievalKind.FirstSentence:
                Assert.StartsWith(d.Answer, t);
                Assert.EndsWith(FirstSentenceEvaluation.Instruction + " " + d.Answer, t);
                Assert.Equal(d.Answer, FirstSentence.Extract(t));
                break;
            case RetrievalKind.CopyList:
                // The list after its header, filler, then the list again closing the document; nothing but the copy
                // makes its second occurrence predictable (random codes and made-up names).
                Assert.EndsWith($"{RetrievalDocuments.CopyListAgain} {d.Answer}", t);
                int list = t.IndexOf($"{RetrievalDocuments.CopyListHeader} {d.Answer}", StringComparison.Ordinal);
                Assert.True(list >= 0, t);
                Assert.InRange(d.Answer.Split(' ').Length, 2, 16);
                Assert.Equal(Words(t[(list + RetrievalDocuments.CopyListHeader.Length + 1)..^d.Answer.Length]), d.Distance);
                break;
            case RetrievalKind.RandomPieces:
                Assert.Equal($"{d.Answer} {RetrievalDocuments.RandomPiecesSeparator} {d.Answer}", t);
                Assert.Equal(Words(d.Answer) + 1, d.Distance);
                break;
        }
    }

    /// <summary>
    /// Log-uniform lengths give every doubling the same share: from 63 to 2,046 words the share within the first 254 is
    /// ln(255/63)/ln(2047/63) = 0.40 (uniform: 192/1984 = 0.10), and CountFor uses that distribution's mean,
    /// (2047 − 63)/ln(2047/63) = 570. A document can end up to a sentence (≤ 40 words) short of its drawn length, hence
    /// the bands; 2,000 documents put the binomial standard error of a share near 0.011.
    /// </summary>
    [Fact]
    public void Log_uniform_lengths_give_each_doubling_the_same_share()
    {
        RetrievalDocuments Gen(bool log) => new(Sentences, new RetrievalDocumentOptions { Seed = 3, MinLength = 63, MaxLength = 2046, LogUniformLengths = log });
        double Share(RetrievalDocuments g) => g.Documents(0, 2000).Count(d => Words(d.Text) <= 254) / 2000.0;
        var logUniform = Gen(true);
        double share = Share(logUniform), uniformShare = Share(Gen(false));
        Assert.InRange(share, 0.36, 0.47);
        Assert.InRange(uniformShare, 0.07, 0.14);
        var lengths = logUniform.Documents(0, 2000).Select(d => Words(d.Text)).ToList();
        Assert.True(lengths.Max() <= 2046 + 4, $"longest {lengths.Max()}");
        // Octaves 63–126, 126–252, …: each about a fifth of the documents.
        for (int lo = 63; lo < 1008; lo *= 2)
            Assert.InRange(lengths.Count(l => l > lo && l <= 2 * lo) / 2000.0, 0.14, 0.26);
        double mean = (2047.0 - 63) / Math.Log(2047.0 / 63);
        Assert.Equal((int)Math.Ceiling(1_000_000 / mean), logUniform.CountFor(1_000_000));
        Assert.InRange(lengths.Average(), 0.9 * mean, 1.02 * mean);
    }

    [Fact]
    public void Passkey_documents_use_the_probe_filler_in_the_set_share()
    {
        var gen = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 2, MaxLength = 250, PasskeyWeight = 1, KeyValueWeight = 0, RepeatedPassageWeight = 0, FirstSentenceWeight = 0, CopyListWeight = 0, ProbeFillerShare = 0.5 });
        var docs = gen.Documents(0, 200).ToList();
        Assert.All(docs, d => Assert.Equal(RetrievalKind.Passkey, d.Kind));
        int probe = docs.Count(d => d.Text.Contains(PasskeyProbe.Filler, StringComparison.Ordinal));
        Assert.InRange(probe, 70, 130);
    }

    [Fact]
    public void Token_lengths_match_the_tokenized_document_within_a_few_tokens()
    {
        var tok = TokenizerLoader.Load(Fixtures.Path("tokenizers/tok512.model"));
        var gen = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 3, MaxLength = 256 }, tok);
        Assert.Equal("tokens", gen.Unit);
        foreach (var d in gen.Documents(0, 60))
        {
            int actual = tok.Encode(d.Text, addBos: false, addEos: false).Length;
            Assert.InRange(actual, d.Length - 4 - d.Length / 50, d.Length + 4 + d.Length / 50);
            Assert.True(d.Length <= 256 && d.Distance <= d.Length, $"{d.Kind} length {d.Length} distance {d.Distance}");
        }
        Assert.Equal(40, gen.CountFor(40 * 160)); // mean length (64 + 256) / 2
    }

    [Fact]
    public void Random_piece_documents_repeat_their_pieces_and_neighbours_do_not_replay_each_other()
    {
        var letters = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 6, MaxLength = 120 }.WithWeights(RetrievalDocumentOptions.ParseWeights("random-pieces=1")));
        var docs = letters.Documents(0, 40).ToList();
        foreach (var d in docs)
        {
            Assert.Equal(RetrievalKind.RandomPieces, d.Kind);
            Assert.Equal($"{d.Answer} {RetrievalDocuments.RandomPiecesSeparator} {d.Answer}", d.Text);
            Assert.InRange(Words(d.Answer), 14, 60); // half of 30–120 words, less the separator
        }
        // Each document has its own stream: with item i's state at seed·a + i·γ, document i + 1 would repeat document
        // i's letters shifted by one draw. No 12-letter run of one document may appear in its neighbour.
        for (int i = 0; i + 1 < docs.Count; i++)
            Assert.DoesNotContain(string.Join(" ", docs[i + 1].Answer.Split(' ').Take(12)), docs[i].Answer, StringComparison.Ordinal);

        var tok = TokenizerLoader.Load(Fixtures.Path("tokenizers/tok512.model"));
        var pieces = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 6, MaxLength = 254 }.WithWeights(RetrievalDocumentOptions.ParseWeights("random-pieces=1")), tok);
        foreach (var d in pieces.Documents(0, 20))
        {
            Assert.EndsWith(" | " + d.Answer, d.Text, StringComparison.Ordinal);
            Assert.StartsWith(d.Answer + " | ", d.Text, StringComparison.Ordinal);
            // Decoded random pieces re-encode to about as many tokens as were drawn: the copy spans half the document.
            int tokens = tok.Encode(d.Answer, addBos: false, addEos: false).Length;
            Assert.InRange(tokens, d.Distance - 2 - d.Distance / 5, d.Distance + 2 + d.Distance / 5);
            Assert.True(2 * d.Distance <= 254 + 8, $"distance {d.Distance}");
        }
    }

    [Fact]
    public void Weight_lists_set_each_kinds_share_and_bad_lists_are_refused()
    {
        var weights = RetrievalDocumentOptions.ParseWeights(" first-sentence=3, passkey=1 ");
        var options = new RetrievalDocumentOptions { Seed = 5, MaxLength = 200 }.WithWeights(weights);
        Assert.Equal([1.0, 0, 0, 3, 0, 0], options.Weights.Values);
        var docs = new RetrievalDocuments(Sentences, options).Documents(0, 400).ToList();
        // Kinds left out get none; the named ones come in their ratio (binomial, n = 400, p = 0.75: sd 0.022).
        Assert.All(docs, d => Assert.Contains(d.Kind, new[] { RetrievalKind.Passkey, RetrievalKind.FirstSentence }));
        Assert.InRange(docs.Count(d => d.Kind == RetrievalKind.FirstSentence) / 400.0, 0.68, 0.82);
        // Every kind's name parses back to it.
        foreach (var kind in Enum.GetValues<RetrievalKind>())
            Assert.Equal(1.0, RetrievalDocumentOptions.ParseWeights(RetrievalDocumentOptions.KindName(kind) + "=1")[kind]);
        Assert.Contains("unknown kind 'pass-key'", Assert.Throws<ArgumentException>(() => RetrievalDocumentOptions.ParseWeights("pass-key=1")).Message);
        Assert.Contains("not name=weight", Assert.Throws<ArgumentException>(() => RetrievalDocumentOptions.ParseWeights("passkey")).Message);
        Assert.Contains("finite number", Assert.Throws<ArgumentException>(() => RetrievalDocumentOptions.ParseWeights("passkey=-1")).Message);
        Assert.Contains("given twice", Assert.Throws<ArgumentException>(() => RetrievalDocumentOptions.ParseWeights("passkey=1,passkey=2")).Message);
        Assert.Contains("no kind a weight", Assert.Throws<ArgumentException>(() => RetrievalDocumentOptions.ParseWeights("passkey=0")).Message);
    }

    [Fact]
    public void Jsonl_holds_the_documents_and_bad_settings_are_refused()
    {
        var dir = Directory.CreateTempSubdirectory("elongate-retrieval");
        try
        {
            var gen = new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { Seed = 4, MaxLength = 120 });
            var path = Path.Combine(dir.FullName, "retrieval.jsonl");
            long units = gen.WriteJsonl(path, 25);
            var lines = File.ReadAllLines(path);
            Assert.Equal(25, lines.Length);
            Assert.Equal(gen.Documents(0, 25).Sum(d => (long)d.Length), units);
            for (int i = 0; i < lines.Length; i++)
            {
                using var j = JsonDocument.Parse(lines[i]);
                Assert.Equal(gen.Document(i).Text, j.RootElement.GetProperty("text").GetString());
                Assert.Equal(gen.Document(i).Answer, j.RootElement.GetProperty("answer").GetString());
            }
            Assert.Throws<ArgumentException>(() => new RetrievalDocuments(["One sentence only."], new RetrievalDocumentOptions()));
            Assert.Throws<ArgumentException>(() => new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { MaxLength = 4 }));
            Assert.Throws<ArgumentException>(() => new RetrievalDocuments(Sentences, new RetrievalDocumentOptions { PasskeyWeight = 0, KeyValueWeight = 0, RepeatedPassageWeight = 0, FirstSentenceWeight = 0, CopyListWeight = 0 }));
        }
        finally { dir.Delete(true); }
    }
}
