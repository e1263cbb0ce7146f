namespace Elongate.Training;

/// <summary>
/// Training stopped because it can no longer make progress: a non-finite loss or gradient (beyond the batches
/// --skip-nonfinite allows), or a gradient that stayed exactly zero. The run's last checkpoint is left as it was.
/// </summary>
public sealed class TrainingDivergedException : Exception
{
    /// <summary>The step (1-based) that failed.</summary>
    public int Step { get; }

    public TrainingDivergedException(int step, string message) : base(message) => Step = step;
}
