namespace Elongate.Training;

/// <summary>One prepared data folder (train.tokens, val.tokens, report.json) and its share of the training sequences.</summary>
/// <param name="Name">Name used by `--mix name=weight`.</param>
/// <param name="Directory">Folder written by `elongate data prepare`.</param>
/// <param name="Weight">Relative share of sequences drawn from it; null means in proportion to its training tokens.</param>
public sealed record TrainingSource(string Name, string Directory, double? Weight = null);
