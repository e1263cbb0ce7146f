using Elongate.Data;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests.Data;

public sealed class DataPipelineTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"elongate-data-{Guid.NewGuid():N}");

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    private (string Path, int[][] Docs) MakeShard(int docs, int vocab, int seed, int maxLen = 50)
    {
        var rng = new Random(seed);
        var all = Enumerable.Range(0, docs).Select(_ => Enumerable.Range(0, 1 + rng.Next(maxLen)).Select(_ => rng.Next(vocab)).ToArray()).ToArray();
        var path = Path.Combine(_dir, $"s{seed}.tokens");
        using var w = new TokenShardWriter(path, vocab);
        foreach (var d in all) w.Add(d);
        w.Complete();
        return (path, all);
    }

    [Theory]
    [InlineData(500)]       // 2-byte tokens
    [InlineData(100_000)]   // 4-byte tokens
    public void Shard_round_trips_every_document(int vocab)
    {
        var (path, docs) = MakeShard(40, vocab, 1);
        using var shard = TokenShard.Open(path);
        Assert.Equal(docs.Length, shard.DocumentCount);
        Assert.Equal(docs.Sum(d => (long)d.Length), shard.TokenCount);
        for (int i = 0; i < docs.Length; i++) Assert.Equal(docs[i], shard.ReadDocument(i));
    }

    [Fact]
    public void Abandoned_writer_leaves_no_file()
    {
        var path = Path.Combine(_dir, "x.tokens");
        using (var w = new TokenShardWriter(path, 10)) w.Add([1, 2, 3]);
        Assert.False(File.Exists(path));
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [Fact]
    public void Corrupt_shard_is_rejected_naming_the_file()
    {
        var (path, _) = MakeShard(5, 300, 2);
        var bytes = File.ReadAllBytes(path);
        var bad = Path.Combine(_dir, "bad.tokens");
        File.WriteAllBytes(bad, bytes[..^3]);
        var e = Assert.Throws<ModelFormatException>(() => TokenShard.Open(bad));
        Assert.Contains("bad.tokens", e.Message);
        int rejected = HeaderMutator.Run(bytes, TokenShard.HeaderBytes, 2_000, 11, b =>
        {
            File.WriteAllBytes(bad, b);
            using var s = TokenShard.Open(bad);
        });
        Assert.True(rejected > 1_000);
    }

    [Fact]
    public void Packing_concatenates_documents_with_one_token_overlap_and_loses_nothing()
    {
        var (path, docs) = MakeShard(30, 300, 3);
        using var shard = TokenShard.Open(path);
        const int T = 16;
        var packer = new SequencePacker(shard, T, seed: 9);
        var stream = new List<int>();
        var tokens = new int[T + 1];
        var segments = new int[T + 1];
        long total = shard.TokenCount;
        for (int i = 0; stream.Count < total; i++)
        {
            packer.Next(tokens, segments);
            if (i > 0) Assert.Equal(stream[^1], tokens[0]);
            stream.AddRange(i == 0 ? tokens : tokens[1..]);
            for (int t = 1; t <= T; t++) Assert.True(segments[t] >= segments[t - 1]);
        }
        // The first epoch's stream is a permutation of the documents, concatenated.
        var firstEpoch = stream.Take((int)total).ToArray();
        var remaining = docs.Select(d => string.Join(",", d)).ToList();
        int at = 0;
        while (at < firstEpoch.Length)
        {
            var match = remaining.FirstOrDefault(r =>
            {
                var d = r.Split(',').Select(int.Parse).ToArray();
                return at + d.Length <= firstEpoch.Length && firstEpoch.AsSpan(at, d.Length).SequenceEqual(d);
            });
            Assert.NotNull(match);
            remaining.Remove(match!);
            at += match!.Split(',').Length;
        }
        Assert.Empty(remaining);
    }

    [Fact]
    public void Whole_document_packing_never_cuts_a_document_that_fits_and_pads_the_rest()
    {
        // Documents of 1–50 tokens and a few longer than the window (cut, as when packing).
        var (path, docs) = MakeShard(60, 300, 4, maxLen: 50);
        var longDocs = Enumerable.Range(0, 3).Select(i => Enumerable.Range(1, 70 + i).ToArray()).ToArray();
        var longPath = Path.Combine(_dir, "long.tokens");
        using (var w = new TokenShardWriter(longPath, 300))
        {
            foreach (var d in docs.Concat(longDocs)) w.Add(d);
            w.Complete();
        }
        using var shard = TokenShard.Open(longPath);
        const int T = 40;
        var packer = new SequencePacker(shard, T, seed: 2, wholeDocuments: true);
        var tokens = new int[T + 1];
        var segments = new int[T + 1];
        var seen = new List<int[]>();
        var pieces = new List<int>();
        int padded = 0;
        var current = new List<int>();
        int currentSegment = -1;
        for (int i = 0; i < 200 && seen.Count < docs.Length + longDocs.Length; i++)
        {
            int real = packer.Next(tokens, segments);
            Assert.InRange(real, 1, T + 1);
            if (real < T + 1)
            {
                padded++;
                Assert.All(tokens[real..], t => Assert.Equal(0, t));
                Assert.All(segments[real..], g => Assert.Equal(segments[real], g));
                Assert.NotEqual(segments[real - 1], segments[real]);
            }
            for (int t = 0; t < real; t++)
            {
                // A long document's continuation repeats the previous window's last token as its first input.
                if (t == 0 && segments[0] == currentSegment) continue;
                if (segments[t] != currentSegment)
                {
                    if (current.Count > 0) seen.Add([.. current]);
                    current.Clear();
                    currentSegment = segments[t];
                }
                current.Add(tokens[t]);
            }
        }
        if (current.Count > 0) seen.Add([.. current]);
        // Every document comes back whole, in some order; those that fit were never split across two windows.
        var expected = docs.Concat(longDocs).Select(d => string.Join(",", d)).Order().ToList();
        Assert.Equal(expected, seen.Take(expected.Count).Select(d => string.Join(",", d)).Order().ToList());
        Assert.True(padded > 10, $"only {padded} windows were padded");

        // Resume from a saved position continues exactly.
        var saved = packer.State;
        var after = Enumerable.Range(0, 20).Select(_ => { packer.Next(tokens, segments); return (int[])tokens.Clone(); }).ToList();
        var resumed = new SequencePacker(shard, T, seed: 2, wholeDocuments: true);
        resumed.Restore(saved);
        foreach (var e in after) { resumed.Next(tokens, segments); Assert.Equal(e, tokens); }
    }

    [Fact]
    public void Packing_resumes_exactly_from_saved_state_and_is_seed_deterministic()
    {
        var (path, _) = MakeShard(25, 300, 4);
        using var shard = TokenShard.Open(path);
        var a = new SequencePacker(shard, 8, seed: 5);
        var b = new SequencePacker(shard, 8, seed: 5);
        var ta = new int[9]; var sa = new int[9]; var tb = new int[9]; var sb = new int[9];
        for (int i = 0; i < 37; i++) { a.Next(ta, sa); b.Next(tb, sb); Assert.Equal(ta, tb); }
        var saved = a.State;
        var expected = new List<int[]>();
        for (int i = 0; i < 200; i++) { a.Next(ta, sa); expected.Add((int[])ta.Clone()); } // crosses epochs
        var resumed = new SequencePacker(shard, 8, seed: 5);
        resumed.Restore(saved);
        foreach (var e in expected) { resumed.Next(tb, sb); Assert.Equal(e, tb); }
        var other = new SequencePacker(shard, 8, seed: 6);
        other.Next(tb, sb);
        var first = new SequencePacker(shard, 8, seed: 5);
        first.Next(ta, sa);
        Assert.NotEqual(ta, tb);
    }

    [Fact]
    public void Upsampling_repeats_long_documents()
    {
        var path = Path.Combine(_dir, "u.tokens");
        using (var w = new TokenShardWriter(path, 100))
        {
            w.Add(Enumerable.Repeat(7, 40).ToArray());  // long
            w.Add(Enumerable.Repeat(3, 5).ToArray());   // short
            w.Complete();
        }
        using var shard = TokenShard.Open(path);
        var packer = new SequencePacker(shard, 9, seed: 1, upsampleThreshold: 20, upsampleFactor: 3);
        var t = new int[10]; var s = new int[10];
        var stream = new List<int>();
        for (int i = 0; i < 30; i++) { packer.Next(t, s); stream.AddRange(t[1..]); }
        double sevens = stream.Count(x => x == 7) / (double)stream.Count;
        Assert.InRange(sevens, 0.93, 0.98); // 120 of 125 tokens per epoch are the long document
    }

    [Fact]
    public void Mixture_follows_weights_and_parses_specs()
    {
        var spec = MixtureSampler.Parse("long=3, short=1");
        var m = new MixtureSampler(spec, 42);
        var counts = new int[2];
        for (int i = 0; i < 40_000; i++) counts[m.Next()]++;
        Assert.InRange(counts[0] / 40_000.0, 0.74, 0.76); // 3σ ≈ 0.0065
        Assert.Throws<ArgumentException>(() => MixtureSampler.Parse("a=1,a=2"));
        Assert.Throws<ArgumentException>(() => MixtureSampler.Parse("a"));
        Assert.Throws<ArgumentException>(() => new MixtureSampler([("a", 0)], 1));
    }

    [Fact]
    public void Validation_split_is_by_document_and_stable()
    {
        var names = Enumerable.Range(0, 2000).Select(i => $"doc{i}").ToArray();
        var val = names.Where(n => DocumentSplit.IsValidation(n, 0.1, 7)).ToArray();
        Assert.InRange(val.Length, 150, 250);
        Assert.Equal(val, names.Where(n => DocumentSplit.IsValidation(n, 0.1, 7)).ToArray());
        Assert.NotEqual(val, names.Where(n => DocumentSplit.IsValidation(n, 0.1, 8)).ToArray());
        Assert.DoesNotContain(names, n => DocumentSplit.IsValidation(n, 0, 7));
    }

    [Fact]
    public void Length_report_quantiles()
    {
        var r = LengthReport.From([1, 2, 3, 4, 100]);
        Assert.Equal((5L, 110L, 1, 3, 100), (r.Documents, r.Tokens, r.Min, r.Median, r.Max));
        Assert.Equal(new long[] { 1, 2, 4, 128 }, r.Histogram.Select(b => b.UpTo).ToArray());
    }
}

public class SyntheticCorpusTests
{
    [Fact]
    public void Documents_are_deterministic_sized_and_recall_their_facts()
    {
        var corpus = new SyntheticCorpus(3);
        var a = corpus.Document(5, 2000);
        Assert.Equal(a, new SyntheticCorpus(3).Document(5, 2000));
        Assert.NotEqual(a, corpus.Document(6, 2000));
        Assert.NotEqual(a, new SyntheticCorpus(4).Document(5, 2000));
        int words = a.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.InRange(words, 1500, 4000);
        // Every fact stated in the introduction is asked about at the end, with the same answer.
        var intro = a.Split('\n').Skip(1).Take(6).ToArray();
        foreach (var line in intro)
        {
            Assert.Contains(" keeps a ", line);
            var name = line[..line.IndexOf(" lives in ", StringComparison.Ordinal)];
            var city = line[(name.Length + " lives in ".Length)..line.IndexOf('.')];
            Assert.Contains($"Question: Where does {name} live? Answer: {city}.", a);
        }
    }
}

public sealed class ChunkShuffleTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"elongate-chunks-{Guid.NewGuid():N}");

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    [Fact]
    public void Chunked_shuffling_mixes_long_documents_and_still_covers_every_token_once_per_epoch()
    {
        var path = Path.Combine(_dir, "books.tokens");
        using (var w = new TokenShardWriter(path, 10))
        {
            w.Add(Enumerable.Repeat(1, 400).ToArray()); // "book" 1
            w.Add(Enumerable.Repeat(2, 400).ToArray()); // "book" 2
            w.Complete();
        }
        using var shard = TokenShard.Open(path);
        const int T = 20;
        var tokens = new int[T + 1];
        var segments = new int[T + 1];
        int Switches(SequencePacker p)
        {
            var stream = new List<int>();
            for (int i = 0; i < 40; i++) { p.Next(tokens, segments); stream.AddRange(i == 0 ? tokens : tokens[1..]); }
            Assert.Equal(400, stream.Take(800).Count(t => t == 1)); // the first epoch (800 tokens) holds each book once
            return stream.Take(800).Zip(stream.Skip(1).Take(799)).Count(pair => pair.First != pair.Second);
        }
        Assert.Equal(1, Switches(new SequencePacker(shard, T, seed: 3)));                  // whole books: one switch
        Assert.True(Switches(new SequencePacker(shard, T, seed: 3, chunkTokens: 50)) > 4); // 16 chunks interleave

        // Resuming mid-chunk continues exactly.
        var a = new SequencePacker(shard, T, seed: 3, chunkTokens: 50);
        for (int i = 0; i < 7; i++) a.Next(tokens, segments);
        var saved = a.State;
        var expected = Enumerable.Range(0, 60).Select(_ => { a.Next(tokens, segments); return (int[])tokens.Clone(); }).ToList();
        var b = new SequencePacker(shard, T, seed: 3, chunkTokens: 50);
        b.Restore(saved);
        foreach (var e in expected) { b.Next(tokens, segments); Assert.Equal(e, tokens); }
    }
}
