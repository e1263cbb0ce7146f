namespace Elongate.Evaluation.Tasks;

/// <summary>What a task run asks: lengths, shots, truncation, limits, prompts and where results go.</summary>
public sealed class TaskRunOptions
{
    /// <summary>Folder of results.jsonl, run.json, report.json and the plot.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>
    /// Length caps L in tokens: each question is asked once per L with prompt + answer budget ≤ min(L, model context)
    /// (the score-against-input-length curve). A single cap is the usual --max-input run.
    /// </summary>
    public IReadOnlyList<int> Lengths { get; init; } = [16384];

    /// <summary>Few-shot counts; each question is asked once per count.</summary>
    public IReadOnlyList<int> Shots { get; init; } = [0];

    /// <summary>Which side of a too-long document is kept.</summary>
    public TaskTruncation Truncation { get; init; } = TaskTruncation.Middle;

    /// <summary>Questions per file (the first N in file order), or null for all.</summary>
    public int? Limit { get; init; }

    /// <summary>Send prompts through the model's chat template.</summary>
    public bool Chat { get; init; }

    /// <summary>Seed of the few-shot draws.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The prompt templates.</summary>
    public TaskPrompts Prompts { get; init; } = TaskPrompts.Default;

    /// <summary>Generation for every L-Eval file, or log-likelihood multiple choice for the exam files with lettered options.</summary>
    public TaskMode Mode { get; init; } = TaskMode.Generate;

    /// <summary>What L-Eval exam questions scored by log-likelihood offer as choices (letters, or the option texts).</summary>
    public LEvalChoiceStyle ChoiceStyle { get; init; } = LEvalChoiceStyle.Letters;

    /// <summary>Paired-bootstrap resamples of a comparison (seeded by <see cref="Seed"/>).</summary>
    public int BootstrapResamples { get; init; } = PairedBootstrap.DefaultResamples;

    /// <summary>Checks the values.</summary>
    /// <exception cref="ArgumentException">An empty list, a non-positive length or limit, a negative shot count.</exception>
    public void Validate()
    {
        if (Lengths.Count == 0) throw new ArgumentException("--lengths: give at least one length");
        if (Lengths.Any(l => l <= 0)) throw new ArgumentException("--lengths: lengths must be positive");
        if (Lengths.Distinct().Count() != Lengths.Count) throw new ArgumentException("--lengths: a length is given twice");
        if (Shots.Count == 0) throw new ArgumentException("--shots: give at least one count");
        if (Shots.Any(s => s < 0)) throw new ArgumentException("--shots: counts must be ≥ 0");
        if (Shots.Distinct().Count() != Shots.Count) throw new ArgumentException("--shots: a count is given twice");
        if (Limit is <= 0) throw new ArgumentException("--limit must be positive");
        if (BootstrapResamples < 1) throw new ArgumentException("bootstrap resamples must be positive");
        if (string.IsNullOrWhiteSpace(OutputDirectory)) throw new ArgumentException("--out: give an output folder");
    }
}
