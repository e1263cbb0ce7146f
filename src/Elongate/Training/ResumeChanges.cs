namespace Elongate.Training;

/// <summary>
/// What a resumed run may change (everything else comes from its checkpoint): a later end, a new peak learning rate
/// (the usual restart after a divergence) and the skip budget for non-finite batches. Null keeps the checkpoint's value.
/// </summary>
/// <param name="Steps">Total steps to train to (≥ the steps already done).</param>
/// <param name="LearningRate">New peak learning rate; the schedule (and its floor, if set) scales with it.</param>
/// <param name="SkipNonFinite">Non-finite batches that may be skipped before the run stops.</param>
public sealed record ResumeChanges(int? Steps = null, float? LearningRate = null, int? SkipNonFinite = null);
