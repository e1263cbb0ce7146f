using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation;

/// <summary>The decoding every retrieval task uses: greedy (argmax), from a fresh cache, stopping at EOS/BOS or the budget.</summary>
internal static class GreedyAnswer
{
    public static string Generate(InferenceSession session, ITokenizer tokenizer, int[] prompt, int maxNewTokens)
    {
        if (prompt.Length + maxNewTokens > session.ContextLength)
            throw new ArgumentException($"prompt ({prompt.Length} tokens) + {maxNewTokens} new tokens exceed the context of {session.ContextLength}");
        session.Reset();
        var ids = new List<int>();
        TextGenerator.Generate(session, prompt, maxNewTokens, new Sampler(SamplingOptions.Greedy), ids.Add);
        return tokenizer.Decode(ids.ToArray());
    }

    /// <summary>A session sized for the grid: the given context if set, else the largest prompt plus the generation budget.</summary>
    public static InferenceSession Session(LlamaModel model, int context, int maxLength, int budget)
    {
        int need = maxLength + budget;
        if (context > 0 && context < need)
            throw new ArgumentException($"context {context} is smaller than the largest length {maxLength} + {budget} generated tokens");
        return new InferenceSession(model, context > 0 ? context : need);
    }

    internal static void CheckLengths(IReadOnlyList<int> lengths, string what)
    {
        if (lengths.Count == 0) throw new ArgumentException($"{what}: give at least one length");
        foreach (var l in lengths) if (l < 2) throw new ArgumentException($"{what}: length {l} must be ≥ 2 tokens");
        if (lengths.Distinct().Count() != lengths.Count) throw new ArgumentException($"{what}: lengths repeat");
    }

    internal static void CheckDepths(IReadOnlyList<double> depths, string what)
    {
        if (depths.Count == 0) throw new ArgumentException($"{what}: give at least one depth");
        foreach (var d in depths) if (!(d >= 0 && d <= 1)) throw new ArgumentException($"{what}: depth {d} must be in [0, 1]");
    }
}
