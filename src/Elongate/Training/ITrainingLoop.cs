namespace Elongate.Training;

/// <summary>
/// What a front end needs to drive a training run step by step (progress, Ctrl+C → checkpoint): pretraining's
/// <see cref="Trainer"/> and <see cref="FineTuner"/> both are one.
/// </summary>
public interface ITrainingLoop
{
    /// <summary>Optimizer steps completed.</summary>
    int Step { get; }

    /// <summary>Steps of the whole run.</summary>
    int TotalSteps { get; }

    /// <summary>The run folder.</summary>
    string RunDirectory { get; }

    /// <summary>Called after every step with its metrics.</summary>
    Action<TrainingMetrics>? StepCompleted { get; set; }

    /// <summary>Writes the checkpoint now (atomically).</summary>
    void SaveCheckpoint();
}
