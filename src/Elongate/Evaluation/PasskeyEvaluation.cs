using System.Diagnostics;
using System.Globalization;
using Elongate.Data;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation;

/// <summary>Settings of a passkey grid.</summary>
public sealed record PasskeyOptions
{
    /// <summary>Target prompt lengths in tokens (BOS included).</summary>
    public IReadOnlyList<int> Lengths { get; init; } = [256, 512, 1024];
    /// <summary>Needle depths: 0 = right after the task line, 1 = right before the question.</summary>
    public IReadOnlyList<double> Depths { get; init; } = [0, 0.25, 0.5, 0.75, 1];
    /// <summary>Trials per cell.</summary>
    public int Trials { get; init; } = 5;
    /// <summary>Seed of the keys.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Digits of each key (uniform over the numbers with exactly this many digits).</summary>
    public int KeyDigits { get; init; } = 5;
    /// <summary>Greedy tokens generated after the question (0 = key digits + 5: room for a leading space and separators).</summary>
    public int MaxNewTokens { get; init; }
    /// <summary>Session context (0 = largest length + generation budget).</summary>
    public int ContextLength { get; init; }

    internal int Budget => MaxNewTokens > 0 ? MaxNewTokens : KeyDigits + 5;

    public void Validate()
    {
        GreedyAnswer.CheckLengths(Lengths, "passkey");
        GreedyAnswer.CheckDepths(Depths, "passkey");
        if (Trials < 1) throw new ArgumentException("passkey: trials must be ≥ 1");
        if (KeyDigits is < 1 or > 9) throw new ArgumentException("passkey: key digits must be in [1, 9]");
        if (MaxNewTokens < 0) throw new ArgumentException("passkey: max new tokens must be ≥ 0");
    }
}

/// <summary>
/// The passkey grid (lengths × depths × trials) over <see cref="PasskeyProbe"/>'s exact prompt. For each prompt the
/// number of filler repeats is the largest whose tokenized prompt (BOS + text) does not exceed the target length,
/// found by binary search with the tokenizer. Trial t uses the same key at every length and depth (a paired
/// design: cells differ only in length and depth); keys are drawn from SplitMix64(seed), uniform over the numbers
/// with exactly <see cref="PasskeyOptions.KeyDigits"/> digits. Scoring: correct when the first integer in the
/// greedy continuation equals the key.
/// </summary>
public static class PasskeyEvaluation
{
    /// <summary>The keys trial 0..n−1 use.</summary>
    public static int[] Keys(int seed, int count, int digits)
    {
        var rng = new SplitMix64((ulong)(uint)seed * 0x9E3779B97F4A7C15UL + 0x5A55_4B45UL);
        int lo = (int)Math.Pow(10, digits - 1), hi = (int)Math.Pow(10, digits) - 1;
        if (digits == 1) lo = 0;
        return Enumerable.Range(0, count).Select(_ => lo + rng.NextInt(hi - lo + 1)).ToArray();
    }

    /// <summary>
    /// The token ids of the passkey prompt for <paramref name="key"/> at <paramref name="depth"/> with as many filler
    /// repeats as fit in <paramref name="length"/> tokens, and the repeat count.
    /// </summary>
    public static (int[] Ids, int Repeats) FitPrompt(ITokenizer tokenizer, int key, double depth, int length)
    {
        int Count(int n) => tokenizer.Encode(PasskeyProbe.BuildPrompt(key, n, depth), addBos: true, addEos: false).Length;
        var fit = PromptFitting.LargestUnbounded(Count, length)
            ?? throw new ArgumentException($"passkey: length {length} is shorter than the prompt without filler ({Count(0)} tokens)");
        return (tokenizer.Encode(PasskeyProbe.BuildPrompt(key, fit.N, depth), addBos: true, addEos: false), fit.N);
    }

    /// <summary>
    /// How far back the key sits in the prompt <see cref="FitPrompt"/> builds: tokens from the needle's first token to
    /// the prompt's end, where the answer starts. The filler comes in whole blocks, so at short lengths depth moves the
    /// needle in large steps (with few blocks, depths 0.25 and 0.75 can mean no filler between needle and question at
    /// all, or all of it); this says what distance a cell actually tested. Tokens merge at the needle's boundary
    /// within a token or so.
    /// </summary>
    public static int KeyDistance(ITokenizer tokenizer, int key, double depth, int length)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var (ids, repeats) = FitPrompt(tokenizer, key, depth, length);
        return ids.Length - tokenizer.Encode(PasskeyProbe.BeforeNeedle(repeats, depth, out _), addBos: true, addEos: false).Length;
    }

    /// <summary>Runs the grid; <paramref name="progress"/> hears one line per cell.</summary>
    public static RetrievalReport Evaluate(LlamaModel model, ITokenizer tokenizer, PasskeyOptions options, Action<string>? progress = null)
    {
        options.Validate();
        var sw = Stopwatch.StartNew();
        var session = GreedyAnswer.Session(model, options.ContextLength, options.Lengths.Max(), options.Budget);
        var keys = Keys(options.Seed, options.Trials, options.KeyDigits);
        var cells = new List<EvalCell>();
        int done = 0, total = options.Lengths.Count * options.Depths.Count;
        foreach (int length in options.Lengths)
            foreach (double depth in options.Depths)
            {
                var trials = new List<EvalTrial>();
                for (int t = 0; t < keys.Length; t++)
                {
                    var (ids, _) = FitPrompt(tokenizer, keys[t], depth, length);
                    string answer = GreedyAnswer.Generate(session, tokenizer, ids, options.Budget);
                    trials.Add(new EvalTrial(t, keys[t].ToString(CultureInfo.InvariantCulture), answer, PasskeyProbe.IsCorrect(answer, keys[t]) ? 1 : 0, ids.Length));
                }
                var cell = new EvalCell(length, depth, trials.Average(x => x.Score), trials.Average(x => (double)x.PromptTokens), trials);
                cells.Add(cell);
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"[{++done}/{total}] passkey length {length} depth {depth:0.##}: {trials.Count(x => x.Score == 1)}/{trials.Count} correct"));
            }
        return new RetrievalReport("passkey", "accuracy (first generated integer equals the key)", session.ContextLength,
            options.Lengths, options.Depths, cells, options, sw.Elapsed.TotalSeconds);
    }
}
