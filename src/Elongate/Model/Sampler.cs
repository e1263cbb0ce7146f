namespace Elongate.Model;

/// <summary>Chooses tokens from logits according to <see cref="SamplingOptions"/>, reproducibly for a given seed.</summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _rng;
    private (int Id, float Logit)[] _candidates = [];

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        _rng = new Random(options.Seed);
    }

    /// <summary>Index of the largest logit (the first one on ties, like llama2.c's argmax).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Picks the next token id.</summary>
    public int Sample(ReadOnlySpan<float> logits)
    {
        if (_options.Temperature == 0f) return ArgMax(logits);
        if (_candidates.Length != logits.Length) _candidates = new (int, float)[logits.Length];
        for (int i = 0; i < logits.Length; i++) _candidates[i] = (i, logits[i]);
        // Most likely first; ties by id so the order does not depend on the sort's stability.
        Array.Sort(_candidates, (a, b) => a.Logit != b.Logit ? b.Logit.CompareTo(a.Logit) : a.Id.CompareTo(b.Id));
        int count = _options.TopK > 0 ? Math.Min(_options.TopK, logits.Length) : logits.Length;

        // Probabilities at temperature T over the kept candidates (the maximum is subtracted for stability).
        var probs = new double[count];
        double max = _candidates[0].Logit, sum = 0;
        for (int i = 0; i < count; i++) { probs[i] = Math.Exp((_candidates[i].Logit - max) / _options.Temperature); sum += probs[i]; }
        if (_options.TopP < 1f)
        {
            // Nucleus: the smallest prefix whose mass reaches top-p (computed at temperature T, as llama.cpp does after top-k).
            double mass = 0;
            int keep = count;
            for (int i = 0; i < count; i++)
            {
                mass += probs[i] / sum;
                if (mass >= _options.TopP) { keep = i + 1; break; }
            }
            count = keep;
            sum = 0;
            for (int i = 0; i < count; i++) sum += probs[i];
        }
        double r = _rng.NextDouble() * sum, acc = 0;
        for (int i = 0; i < count; i++)
        {
            acc += probs[i];
            if (r < acc) return _candidates[i].Id;
        }
        return _candidates[count - 1].Id;
    }
}
