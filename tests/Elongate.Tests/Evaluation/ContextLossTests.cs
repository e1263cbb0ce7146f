using Elongate.Evaluation;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Model;

namespace Elongate.Tests.Evaluation;

public class ContextLossTests
{
    private static (LlamaModel Model, int[][] Docs) Setup()
    {
        var model = Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));
        // Two "documents": the model's own greedy story (low loss) and a shuffled copy of it (high loss).
        var story = GoldenGenerationTests.GreedyLikeRunC(model, 200).Prepend(1).ToArray();
        var shuffled = story.Skip(1).OrderBy(t => (t * 7919) % 211).Prepend(1).ToArray();
        return (model, [story, shuffled]);
    }

    [SkippableFact]
    public void Non_overlapping_windows_score_every_token_once_and_match_a_hand_loop()
    {
        var (model, docs) = Setup();
        var session = new InferenceSession(model, 64);
        var r = ContextLoss.Evaluate(session, docs, 64);
        Assert.Equal(docs.Sum(d => d.Length - 1), r.ScoredTokens);
        Assert.Equal(2 * (int)Math.Ceiling(200 / 64.0), r.Windows);

        // Reference: the same windows scored one token at a time through the KV cache.
        double sum = 0; long n = 0;
        foreach (var doc in docs)
            for (int start = 0; start + 1 < doc.Length; start += 64)
            {
                var s = new InferenceSession(model, 64, batchSize: 1);
                int end = Math.Min(start + 65, doc.Length);
                for (int p = start; p < end - 1; p++) { sum += ContextLoss.CrossEntropy(s.Forward(doc[p]), doc[p + 1]); n++; }
            }
        Assert.Equal(sum / n, r.MeanLoss, 4);
        Assert.Equal(r.ScoredTokens, r.Buckets.Sum(b => b.Tokens));
    }

    [SkippableFact]
    public void A_model_predicts_its_own_greedy_text_better_than_shuffled_text()
    {
        var (model, docs) = Setup();
        var session = new InferenceSession(model, 128);
        var own = ContextLoss.Evaluate(session, [docs[0]], 128);
        var shuffled = ContextLoss.Evaluate(session, [docs[1]], 128);
        Assert.True(own.MeanLoss < 1.0, $"own text loss {own.MeanLoss}");
        Assert.True(shuffled.MeanLoss > own.MeanLoss + 2, $"shuffled {shuffled.MeanLoss} vs own {own.MeanLoss}");
        Assert.Equal(Math.Exp(own.MeanLoss), own.Perplexity, 9);
    }

    [SkippableFact]
    public void Sliding_window_with_full_stride_equals_non_overlapping_and_smaller_strides_score_each_token_once()
    {
        var (model, docs) = Setup();
        var session = new InferenceSession(model, 64);
        var a = ContextLoss.Evaluate(session, docs, 64);
        var b = ContextLoss.Evaluate(session, docs, 64, stride: 64);
        Assert.Equal(a.MeanLoss, b.MeanLoss, 10);
        var c = ContextLoss.Evaluate(session, docs, 64, stride: 16);
        Assert.Equal(a.ScoredTokens, c.ScoredTokens);
        Assert.True(c.MeanLoss <= a.MeanLoss + 0.05, "more context per scored token should not hurt much");
    }

    [Fact]
    public void Bucket_edges_are_increasing_and_end_at_L()
    {
        Assert.Equal(new[] { 2, 4, 8, 16, 32, 64, 128, 256 }, ContextLoss.BucketEdges(256, 8));
        Assert.Equal(new[] { 1 }, ContextLoss.BucketEdges(1, 8));
        Assert.Equal(new[] { 10 }, ContextLoss.BucketEdges(10, 1));
    }
}
