using System.Globalization;

namespace Elongate.Training;

/// <summary>
/// Watches every optimizer step's loss and gradient norm so a run fails loudly instead of silently: a non-finite
/// loss or gradient stops the run (or, with <c>--skip-nonfinite N</c>, skips up to N such batches, as large-model
/// trainers do for rare spikes); a loss spike and a gradient that is exactly zero raise warnings; a gradient that
/// stays zero for <see cref="DeadStepsToStop"/> steps stops the run, because the model no longer learns anything.
/// </summary>
/// <remarks>
/// The thresholds are deliberately loose, so a healthy run never trips them: a spike is a loss above both 1.5× and
/// 0.5 nat more than the mean of the previous <see cref="SpikeWindow"/> steps; a dead gradient is a global norm of
/// exactly 0 in fp32, which a model with any signal left never produces (the typical end state after a far too high
/// learning rate: every output equal, loss = ln V).
/// </remarks>
public sealed class TrainingGuard
{
    /// <summary>Steps of loss history a spike is measured against.</summary>
    public const int SpikeWindow = 10;

    /// <summary>Consecutive zero-gradient steps that raise the warning.</summary>
    public const int DeadStepsToWarn = 5;

    /// <summary>Consecutive zero-gradient steps that stop the run.</summary>
    public const int DeadStepsToStop = 20;

    private readonly Queue<double> _recent = new();
    private readonly string _runDirectory;
    private int _deadRun;

    /// <param name="maxSkips">Non-finite batches that may be skipped before the run stops (0: stop at the first).</param>
    /// <param name="runDirectory">Named in the stop message.</param>
    public TrainingGuard(int maxSkips, string runDirectory)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSkips);
        MaxSkips = maxSkips;
        _runDirectory = runDirectory;
    }

    /// <summary>Batches skipped so far in this process.</summary>
    public int Skipped { get; private set; }

    /// <summary>Non-finite batches allowed.</summary>
    public int MaxSkips { get; }

    /// <summary>Step of the last checkpoint on disk, named in the stop message (null: none yet).</summary>
    public int? LastCheckpointStep { get; set; }

    /// <summary>True when the loss or gradient norm is NaN or infinite.</summary>
    public static bool IsBad(double loss, float gradNorm) => !double.IsFinite(loss) || !float.IsFinite(gradNorm);

    /// <summary>
    /// A step whose loss or gradient is not finite: counts it as skipped, or throws when no skips are left.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The run must stop.</exception>
    public void Skip(int step, double loss, float gradNorm)
    {
        string what = !double.IsFinite(loss) ? $"the loss is {Show(loss)}" : $"the gradient norm is {Show(gradNorm)} (loss {Show(loss)})";
        if (Skipped >= MaxSkips)
        {
            string checkpoint = LastCheckpointStep is { } s
                ? $"the last checkpoint (step {s}, {Path.Combine(_runDirectory, TrainingCheckpoint.FileName)}) is intact: resume it with a lower --lr"
                : "no checkpoint was written before this step (use --checkpoint-every N to keep one)";
            string skips = MaxSkips == 0 ? "; --skip-nonfinite N skips up to N such batches instead" : $" after {Skipped} skipped batches (--skip-nonfinite {MaxSkips})";
            throw new TrainingDivergedException(step, $"step {step}: {what}: training diverged{skips}. {char.ToUpperInvariant(checkpoint[0])}{checkpoint[1..]}");
        }
        Skipped++;
    }

    /// <summary>Records a finite step; returns a warning to show, or null. Throws when the gradient has been zero too long.</summary>
    /// <exception cref="TrainingDivergedException">The gradient stayed exactly zero for <see cref="DeadStepsToStop"/> steps.</exception>
    public string? Observe(int step, double loss, float gradNorm)
    {
        string? warning = null;
        if (_recent.Count == SpikeWindow)
        {
            double mean = _recent.Average();
            if (loss > 1.5 * mean && loss > mean + 0.5)
                warning = string.Create(CultureInfo.InvariantCulture, $"loss spike at step {step}: {loss:F4} against a mean of {mean:F4} over the previous {SpikeWindow} steps (is --lr too high?)");
            _recent.Dequeue();
        }
        _recent.Enqueue(loss);
        _deadRun = gradNorm == 0 ? _deadRun + 1 : 0;
        if (_deadRun == DeadStepsToWarn)
            warning = string.Create(CultureInfo.InvariantCulture,
                $"the gradient has been exactly zero for {DeadStepsToWarn} steps (loss {loss:F4}): the model has stopped learning, typically after a far too high --lr; the run stops at {DeadStepsToStop}");
        if (_deadRun >= DeadStepsToStop)
            throw new TrainingDivergedException(step, string.Create(CultureInfo.InvariantCulture,
                $"step {step}: the gradient has been exactly zero for {DeadStepsToStop} steps (loss {loss:F4}): the model no longer learns; restart with a lower --lr"));
        return warning;
    }

    private static string Show(double x) => double.IsNaN(x) ? "NaN" : double.IsPositiveInfinity(x) ? "+∞" : double.IsNegativeInfinity(x) ? "−∞" : x.ToString("G6", CultureInfo.InvariantCulture);
}
