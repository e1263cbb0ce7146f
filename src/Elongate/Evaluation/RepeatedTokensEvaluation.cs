using System.Diagnostics;
using Elongate.Data;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation;

/// <summary>
/// Repeated random tokens (Olsson et al. 2022, "In-context learning and induction heads"): a window of BOS, then n =
/// ⌊(L − 1) / 2⌋ tokens drawn uniformly from the vocabulary's normal pieces, then the same n tokens again. Nothing in
/// the second copy can be predicted from language, only by copying from n tokens back, so it measures the generic copy
/// mechanism that every retrieval task rests on, at a distance set by the window and with no prompt wording to crowd
/// a short window (the passkey probe's wording takes 155 of 256 tokens with tok512).
/// Score: the share of the second copy's tokens 2 … n whose greedy (argmax) prediction is the token itself, teacher
/// forced in one pass (the copy's first token follows nothing that announces it and is not scored); chance is 1 / the
/// pool size. The trial also records the mean loss on those tokens and on the first copy's (the no-copy baseline,
/// about ln of the pool size), in <see cref="EvalTrial.Generated"/> as "loss first → second".
/// </summary>
public static class RepeatedTokensEvaluation
{
    /// <summary>The ids a sequence is drawn from: the vocabulary's normal pieces (no control, byte, unknown or unused ids).</summary>
    public static int[] Pool(TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        var pool = vocabulary.NormalIds();
        if (pool.Length < 2) throw new ArgumentException($"repeated-tokens: the vocabulary has {pool.Length} normal pieces; need at least 2");
        return pool;
    }

    /// <summary>Trial <paramref name="trial"/>'s window at <paramref name="length"/>: BOS, n random pool ids, the same n again.</summary>
    public static int[] Window(int[] pool, int bos, int seed, int trial, int length)
    {
        int n = (length - 1) / 2;
        var rng = SplitMix64.ForItem((ulong)(uint)seed, (ulong)trial);
        var window = new int[1 + 2 * n];
        window[0] = bos;
        for (int i = 0; i < n; i++) window[1 + i] = window[1 + n + i] = pool[rng.NextInt(pool.Length)];
        return window;
    }

    /// <summary>Runs the grid; <paramref name="progress"/> hears one line per length.</summary>
    public static RetrievalReport Evaluate(LlamaModel model, ITokenizer tokenizer, RepeatedTokensOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        options.Validate();
        var sw = Stopwatch.StartNew();
        var pool = Pool(tokenizer.Vocabulary);
        var session = GreedyAnswer.Session(model, 0, options.Lengths.Max(), 0);
        var cells = new List<EvalCell>();
        int done = 0;
        foreach (int length in options.Lengths)
        {
            var trials = new List<EvalTrial>();
            for (int t = 0; t < options.Trials; t++)
            {
                var w = Window(pool, tokenizer.Vocabulary.BosId, options.Seed, t, length);
                int n = (w.Length - 1) / 2;
                session.Reset();
                var logits = session.ForwardAll(w.AsSpan(0, w.Length - 1));
                // Position p's logits predict w[p + 1]. First copy: targets w[2 … n]; second copy: w[n + 2 … 2n].
                double firstLoss = 0, secondLoss = 0;
                int hits = 0;
                var predicted = new int[n - 1];
                for (int i = 1; i < n; i++)
                {
                    firstLoss += ContextLoss.CrossEntropy(logits[i], w[1 + i]);
                    int p = n + i;
                    secondLoss += ContextLoss.CrossEntropy(logits[p], w[p + 1]);
                    predicted[i - 1] = Sampler.ArgMax(logits[p]);
                    if (predicted[i - 1] == w[p + 1]) hits++;
                }
                string losses = FormattableString.Invariant($"loss {firstLoss / (n - 1):F3} → {secondLoss / (n - 1):F3}");
                trials.Add(new EvalTrial(t, tokenizer.Decode(w.AsSpan(n + 2, n - 1)), losses + ": " + tokenizer.Decode(predicted), hits / (double)(n - 1), w.Length));
            }
            cells.Add(new EvalCell(length, null, trials.Average(x => x.Score), trials.Average(x => (double)x.PromptTokens), trials));
            progress?.Invoke(FormattableString.Invariant(
                $"[{++done}/{options.Lengths.Count}] repeated-tokens length {length} (copy from {(length - 1) / 2} back): copy accuracy {cells[^1].Score:F3} (chance {1.0 / pool.Length:F4})"));
        }
        return new RetrievalReport("repeated-tokens", "share of the repeated half's tokens predicted by copying (argmax, teacher forced)", session.ContextLength,
            options.Lengths, [], cells, options, sw.Elapsed.TotalSeconds);
    }
}

/// <summary>Settings of a repeated-random-tokens grid.</summary>
public sealed record RepeatedTokensOptions
{
    /// <summary>Window lengths in tokens (BOS + two copies of (L − 1) / 2 random tokens).</summary>
    public IReadOnlyList<int> Lengths { get; init; } = [256, 512, 1024];
    /// <summary>Random sequences per length.</summary>
    public int Trials { get; init; } = 4;
    /// <summary>Seed of the sequences; trial t draws the same tokens at every length (its first (L − 1) / 2).</summary>
    public int Seed { get; init; } = 1;

    public void Validate()
    {
        GreedyAnswer.CheckLengths(Lengths, "repeated-tokens");
        foreach (var l in Lengths) if (l < 7) throw new ArgumentException($"repeated-tokens: length {l} must be ≥ 7 (two copies of 3 tokens after BOS)");
        if (Trials < 1) throw new ArgumentException("repeated-tokens: trials must be ≥ 1");
    }
}
