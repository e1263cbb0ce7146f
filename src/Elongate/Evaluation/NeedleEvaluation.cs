using System.Diagnostics;
using System.Globalization;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation;

/// <summary>Settings of a needle-in-a-haystack grid (defaults after Greg Kamradt's LLMTest_NeedleInAHaystack).</summary>
public sealed record NeedleOptions
{
    public const string DefaultNeedle = "The best thing to do in San Francisco is eat a sandwich and sit in Dolores Park on a sunny day.";
    public const string DefaultQuestion = "What is the best thing to do in San Francisco?";
    public const string DefaultAnswer = "eat a sandwich and sit in Dolores Park on a sunny day";

    /// <summary>Target prompt lengths in tokens (BOS + haystack with needle + question).</summary>
    public IReadOnlyList<int> Lengths { get; init; } = [256, 512, 1024];
    /// <summary>Needle depths as fractions of the haystack (0 = start, 1 = end).</summary>
    public IReadOnlyList<double> Depths { get; init; } = [0, 0.25, 0.5, 0.75, 1];
    /// <summary>Haystacks per cell: trial t starts at document t mod D.</summary>
    public int Trials { get; init; } = 1;
    public string Needle { get; init; } = DefaultNeedle;
    public string Question { get; init; } = DefaultQuestion;
    /// <summary>The expected answer, scored by <see cref="AnswerMatch"/>.</summary>
    public string Answer { get; init; } = DefaultAnswer;
    /// <summary>Greedy tokens generated (0 = max(16, 2 × the answer's token count)).</summary>
    public int MaxNewTokens { get; init; }
    /// <summary>Session context (0 = largest length + generation budget).</summary>
    public int ContextLength { get; init; }

    public void Validate()
    {
        GreedyAnswer.CheckLengths(Lengths, "needle");
        GreedyAnswer.CheckDepths(Depths, "needle");
        if (Trials < 1) throw new ArgumentException("needle: trials must be ≥ 1");
        if (string.IsNullOrWhiteSpace(Needle) || string.IsNullOrWhiteSpace(Question)) throw new ArgumentException("needle: the needle and the question must not be empty");
        if (AnswerMatch.Normalize(Answer).Length == 0) throw new ArgumentException("needle: the answer has no words left after normalization");
        if (MaxNewTokens < 0) throw new ArgumentException("needle: max new tokens must be ≥ 0");
    }
}

/// <summary>
/// Needle in a haystack over real text. Haystack of trial t: document t mod D followed by the next documents
/// (joined by a blank line) until it holds at least the largest length in tokens. For each length, the haystack is
/// cut to the most tokens for which the whole prompt fits (binary search with the tokenizer), the needle is inserted
/// at the sentence boundary (<see cref="FirstSentence.Boundaries"/>) nearest to depth × the cut haystack's
/// characters, separated by a space, and the prompt is, exactly:
/// <c>{haystack with needle}\n\nQuestion: {question}\nAnswer:</c> after BOS. Greedy generation; score by
/// <see cref="AnswerMatch"/> (fraction of the answer's normalized words present in the generation).
/// </summary>
public static class NeedleEvaluation
{
    /// <summary>The prompt text for a haystack already holding the needle.</summary>
    public static string BuildPrompt(string haystack, string question) => $"{haystack}\n\nQuestion: {question}\nAnswer:";

    /// <summary>Inserts <paramref name="needle"/> at the sentence boundary nearest to depth × length of <paramref name="haystack"/>.</summary>
    public static string Insert(string haystack, string needle, double depth)
    {
        if (haystack.Length == 0) return needle;
        double target = depth * haystack.Length;
        int at = FirstSentence.Boundaries(haystack).MinBy(b => Math.Abs(b - target));
        if (at == 0) return needle + " " + haystack;
        if (at == haystack.Length) return haystack + " " + needle;
        return haystack[..at] + " " + needle + haystack[at..];
    }

    /// <summary>The prompt ids at a target length: the most haystack tokens that fit with the needle and question.</summary>
    public static int[] FitPrompt(ITokenizer tokenizer, int[] haystackIds, NeedleOptions options, double depth, int length)
    {
        string Build(int k) => BuildPrompt(Insert(tokenizer.Decode(haystackIds.AsSpan(0, Math.Min(haystackIds.Length, k + 1))), options.Needle, depth), options.Question);
        int Count(int k) => tokenizer.Encode(Build(k), addBos: true, addEos: false).Length;
        var fit = PromptFitting.Largest(Count, length, 0, haystackIds.Length - 1)
            ?? throw new ArgumentException($"needle: length {length} is shorter than the needle and question alone ({Count(0)} tokens)");
        return tokenizer.Encode(Build(fit.N), addBos: true, addEos: false);
    }

    /// <summary>Runs the grid; <paramref name="progress"/> hears one line per cell.</summary>
    public static RetrievalReport Evaluate(LlamaModel model, ITokenizer tokenizer, EvalCorpus haystack, NeedleOptions options, Action<string>? progress = null)
    {
        options.Validate();
        var sw = Stopwatch.StartNew();
        int maxLength = options.Lengths.Max();
        int budget = options.MaxNewTokens > 0 ? options.MaxNewTokens
            : Math.Max(16, 2 * tokenizer.Encode(options.Answer, addBos: false, addEos: false).Length);
        var hays = new int[options.Trials][];
        for (int t = 0; t < options.Trials; t++)
        {
            int first = t % haystack.Count;
            string text = haystack.Text(first, tokenizer);
            var ids = EvalCorpus.EncodePrefix(text, tokenizer, maxLength).Ids;
            for (int next = first + 1; ids.Length < maxLength && next < first + haystack.Count; next++)
            {
                text += "\n\n" + haystack.Text(next % haystack.Count, tokenizer);
                ids = EvalCorpus.EncodePrefix(text, tokenizer, maxLength).Ids;
            }
            hays[t] = ids;
        }
        var session = GreedyAnswer.Session(model, options.ContextLength, maxLength, budget);
        var cells = new List<EvalCell>();
        int done = 0, total = options.Lengths.Count * options.Depths.Count;
        foreach (int length in options.Lengths)
            foreach (double depth in options.Depths)
            {
                var trials = new List<EvalTrial>();
                for (int t = 0; t < options.Trials; t++)
                {
                    var prompt = FitPrompt(tokenizer, hays[t], options, depth, length);
                    string answer = GreedyAnswer.Generate(session, tokenizer, prompt, budget);
                    trials.Add(new EvalTrial(t, options.Answer, answer, AnswerMatch.Score(options.Answer, answer), prompt.Length));
                }
                cells.Add(new EvalCell(length, depth, trials.Average(x => x.Score), trials.Average(x => (double)x.PromptTokens), trials));
                progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                    $"[{++done}/{total}] needle length {length} depth {depth:0.##}: match {cells[^1].Score:F3}"));
            }
        return new RetrievalReport("needle", "normalized match (fraction of answer words in the generation)", session.ContextLength,
            options.Lengths, options.Depths, cells, options, sw.Elapsed.TotalSeconds);
    }
}
