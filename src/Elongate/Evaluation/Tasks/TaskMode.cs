namespace Elongate.Evaluation.Tasks;

/// <summary>How `eval tasks` answers the questions of L-Eval exam files.</summary>
public enum TaskMode
{
    /// <summary>Every L-Eval / SCROLLS file by greedy generation, scored by its metric (exam, f1, rouge).</summary>
    Generate,

    /// <summary>
    /// L-Eval exam files whose questions list lettered options (tpo, coursera, QuALITY) by log-likelihood multiple
    /// choice (<see cref="LEvalMultipleChoice"/>: acc and acc_norm at each length cap); the other files still by generation.
    /// </summary>
    LogLikelihood,
}
