namespace Elongate.Training;

/// <summary>One prepared data folder (train.tokens, val.tokens, report.json) and its share of the training sequences.</summary>
/// <param name="Name">Name used by `--mix name=weight`.</param>
/// <param name="Directory">Folder written by `elongate data prepare`.</param>
/// <param name="Weight">Relative share of sequences drawn from it; null means in proportion to its training tokens.</param>
/// <param name="WholeDocuments">
/// Never cut a document that fits in one sequence across two: the rest of a sequence it does not fit is padding with
/// no loss (see <see cref="Data.SequencePacker"/>). For short self-contained documents whose end depends on their start
/// (synthetic retrieval: a fact, filler, the question about the fact).
/// </param>
/// <param name="AnswersOnly">
/// Loss only on each document's answer: the trailing tokens the folder's <see cref="Data.LossTails.FileName"/> gives
/// per document (synthetic retrieval documents, whose filler would otherwise drown the answer's signal).
/// </param>
public sealed record TrainingSource(string Name, string Directory, double? Weight = null, bool WholeDocuments = false, bool AnswersOnly = false);
