using System.Diagnostics;
using System.Globalization;
using Elongate.Data;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Evaluation;

/// <summary>Settings of a FIRST-SENTENCE-RETRIEVAL grid.</summary>
public sealed record FirstSentenceOptions
{
    /// <summary>Target prompt lengths in tokens (BOS + passage + instruction).</summary>
    public IReadOnlyList<int> Lengths { get; init; } = [256, 512, 1024];
    /// <summary>Passages per length.</summary>
    public int Trials { get; init; } = 5;
    /// <summary>Seed of the passage starts after each document's first.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>A start is used only if its first sentence has at least this many words (avoids "Mr." and headings).</summary>
    public int MinWords { get; init; } = 5;
    /// <summary>… and at most this many.</summary>
    public int MaxWords { get; init; } = 60;
    /// <summary>Session context (0 = largest length + largest generation budget).</summary>
    public int ContextLength { get; init; }

    public void Validate()
    {
        GreedyAnswer.CheckLengths(Lengths, "first-sentence");
        if (Trials < 1) throw new ArgumentException("first-sentence: trials must be ≥ 1");
        if (MinWords < 1 || MaxWords < MinWords) throw new ArgumentException("first-sentence: need 1 ≤ min words ≤ max words");
    }
}

/// <summary>
/// FIRST-SENTENCE-RETRIEVAL (Xiong et al. 2023, Table 5): the model reads a passage and is asked for its first
/// sentence. Prompt (exactly): BOS, the passage truncated to fit, then <see cref="Instruction"/>. The passage is
/// truncated token-wise (the largest number of its tokens whose prompt fits the target length, by binary search
/// with the tokenizer), so at small lengths the first sentence itself may be cut.
/// Passages: trial t reads the t mod D-th document that has a usable start (D = number of such documents); its
/// first round (t &lt; D) starts at the document's first usable sentence, later rounds at a seeded random usable
/// sentence start in the document's first half. A start is usable when its first sentence (<see cref="FirstSentence"/>)
/// has between MinWords and MaxWords words. A passage shorter than the largest length continues with the following
/// documents, separated by a blank line. The same passage is used at every length.
/// Generation: greedy, up to ⌈1.5 × the first sentence's token count⌉ tokens. Score: ROUGE-L F-measure
/// (<see cref="RougeL"/>) of the generation against the true first sentence.
/// </summary>
public static class FirstSentenceEvaluation
{
    /// <summary>The text appended to the passage.</summary>
    public const string Instruction = RetrievalDocuments.FirstSentenceInstruction; // one wording for training documents and probe

    /// <summary>A passage and the sentence the model should give back.</summary>
    public sealed record Passage(int Document, int Start, string Text, string FirstSentence);

    /// <summary>Chooses the passages (see the class remarks).</summary>
    public static List<Passage> SelectPassages(EvalCorpus corpus, ITokenizer tokenizer, FirstSentenceOptions options, int minTokens)
    {
        var usable = new List<(int Doc, string Text, List<int> Starts)>();
        for (int d = 0; d < corpus.Count && usable.Count < options.Trials; d++)
        {
            var text = corpus.Text(d, tokenizer);
            var starts = FirstSentence.SentenceStarts(text).Where(s =>
            {
                var sentence = FirstSentence.Extract(text, s);
                if (sentence is null) return false;
                int words = RougeL.Tokenize(sentence).Length;
                return words >= options.MinWords && words <= options.MaxWords;
            }).ToList();
            if (starts.Count > 0) usable.Add((d, text, starts));
        }
        if (usable.Count == 0)
            throw new ArgumentException($"first-sentence: no document in {corpus.Source} has a sentence of {options.MinWords}–{options.MaxWords} words ending in . ! or ? followed by whitespace");
        var passages = new List<Passage>();
        for (int t = 0; t < options.Trials; t++)
        {
            var (doc, text, starts) = usable[t % usable.Count];
            int start = starts[0];
            if (t >= usable.Count)
            {
                var rng = new SplitMix64((ulong)(uint)options.Seed * 0x9E3779B97F4A7C15UL + (ulong)t);
                var firstHalf = starts.Where(s => s < text.Length / 2).ToList();
                var pool = firstHalf.Count > 0 ? firstHalf : starts;
                start = pool[rng.NextInt(pool.Count)];
            }
            string passage = text[start..];
            // Continue into the following documents until the passage can fill the largest length.
            for (int next = doc + 1; next < doc + corpus.Count && EvalCorpus.EncodePrefix(passage, tokenizer, minTokens).Ids.Length < minTokens; next++)
                passage += "\n\n" + corpus.Text(next % corpus.Count, tokenizer);
            passages.Add(new Passage(doc, start, passage, FirstSentence.Extract(passage)!));
        }
        return passages;
    }

    /// <summary>The prompt ids for a passage at a target length: the most passage tokens that fit, then the instruction.</summary>
    public static int[] FitPrompt(ITokenizer tokenizer, int[] passageIds, int length)
    {
        string Build(int k) => tokenizer.Decode(passageIds.AsSpan(0, Math.Min(passageIds.Length, k + 1))) + Instruction;
        int Count(int k) => tokenizer.Encode(Build(k), addBos: true, addEos: false).Length;
        var fit = PromptFitting.Largest(Count, length, 0, passageIds.Length - 1)
            ?? throw new ArgumentException($"first-sentence: length {length} is shorter than the instruction alone ({Count(0)} tokens)");
        return tokenizer.Encode(Build(fit.N), addBos: true, addEos: false);
    }

    /// <summary>Runs the grid; <paramref name="progress"/> hears one line per length.</summary>
    public static RetrievalReport Evaluate(LlamaModel model, ITokenizer tokenizer, EvalCorpus corpus, FirstSentenceOptions options, Action<string>? progress = null)
    {
        options.Validate();
        var sw = Stopwatch.StartNew();
        int maxLength = options.Lengths.Max();
        var passages = SelectPassages(corpus, tokenizer, options, maxLength);
        var budgets = passages.Select(p => (int)Math.Ceiling(1.5 * tokenizer.Encode(p.FirstSentence, addBos: false, addEos: false).Length)).ToArray();
        var ids = passages.Select(p => EvalCorpus.EncodePrefix(p.Text, tokenizer, maxLength).Ids).ToArray();
        var session = GreedyAnswer.Session(model, options.ContextLength, maxLength, budgets.Max());
        var cells = new List<EvalCell>();
        int done = 0;
        foreach (int length in options.Lengths)
        {
            var trials = new List<EvalTrial>();
            for (int t = 0; t < passages.Count; t++)
            {
                var prompt = FitPrompt(tokenizer, ids[t], length);
                string answer = GreedyAnswer.Generate(session, tokenizer, prompt, budgets[t]);
                trials.Add(new EvalTrial(t, passages[t].FirstSentence, answer, RougeL.Score(passages[t].FirstSentence, answer).FMeasure, prompt.Length));
            }
            cells.Add(new EvalCell(length, null, trials.Average(x => x.Score), trials.Average(x => (double)x.PromptTokens), trials));
            progress?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"[{++done}/{options.Lengths.Count}] first-sentence length {length}: mean ROUGE-L {cells[^1].Score:F3}"));
        }
        return new RetrievalReport("first-sentence", "ROUGE-L F against the true first sentence", session.ContextLength,
            options.Lengths, [], cells, options, sw.Elapsed.TotalSeconds);
    }
}
