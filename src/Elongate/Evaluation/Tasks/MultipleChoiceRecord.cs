using System.Text.Json.Serialization;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// What one item scored: enough to recompute every metric, to pair it with another model's record of the same item
/// (paired bootstrap) and to resume a run without scoring it again. One JSON line per item in a records file.
/// </summary>
/// <param name="Id">The item's id.</param>
/// <param name="Scoring">How <see cref="Score"/> is defined.</param>
/// <param name="Gold">Indices of the correct choices.</param>
/// <param name="LogLikelihoods">Each continuation's log-likelihood, in choice order.</param>
/// <param name="ChoiceLengths">Each choice's length in characters (the <c>acc_norm</c> divisor).</param>
/// <param name="Prediction">argmax of the log-likelihoods.</param>
/// <param name="PredictionNorm">argmax of log-likelihood / length.</param>
/// <param name="Acc">1 when <see cref="Prediction"/> is a gold index, else 0.</param>
/// <param name="AccNorm">1 when <see cref="PredictionNorm"/> is a gold index, else 0.</param>
/// <param name="TrueMass">Probability mass on the gold choices, normalised over all choices (TruthfulQA MC2's score).</param>
/// <param name="Truncated">The item's document was shortened to fit the context.</param>
/// <param name="PromptHash">
/// <see cref="HashPrompt"/> of the item as it was asked (before any truncation), so a resumed run can tell that a
/// record belongs to the same question, choices and prompt template and not just the same id.
/// </param>
public sealed record MultipleChoiceRecord(
    string Id,
    MultipleChoiceScoring Scoring,
    IReadOnlyList<int> Gold,
    IReadOnlyList<double> LogLikelihoods,
    IReadOnlyList<int> ChoiceLengths,
    int Prediction,
    int PredictionNorm,
    double Acc,
    double AccNorm,
    double TrueMass,
    bool Truncated,
    string PromptHash)
{
    /// <summary>The item's score for comparisons: <see cref="TrueMass"/> for TruthfulQA MC2, <see cref="Acc"/> otherwise.</summary>
    [JsonIgnore]
    public double Score => Scoring == MultipleChoiceScoring.TruthfulQaMc2 ? TrueMass : Acc;

    /// <summary>
    /// The record of <paramref name="item"/> given its continuations' <paramref name="logLikelihoods"/>: acc and acc_norm
    /// as lm-evaluation-harness's <c>process_results</c> (several gold indices: "pred in gold"), and the MC2 mass.
    /// </summary>
    public static MultipleChoiceRecord Create(MultipleChoiceItem item, IReadOnlyList<double> logLikelihoods, bool truncated = false)
    {
        if (logLikelihoods.Count != item.Choices.Count)
            throw new ArgumentException($"item {item.Id}: {logLikelihoods.Count} log-likelihoods for {item.Choices.Count} choices", nameof(logLikelihoods));
        var lengths = item.Choices.Select(MultipleChoiceMetrics.CharacterLength).ToArray();
        int pred = MultipleChoiceMetrics.Argmax(logLikelihoods);
        int predNorm = MultipleChoiceMetrics.ArgmaxNormalized(logLikelihoods, lengths);
        return new MultipleChoiceRecord(item.Id, item.Scoring, item.Gold.ToArray(), logLikelihoods.ToArray(), lengths,
            pred, predNorm,
            item.Gold.Contains(pred) ? 1 : 0,
            item.Gold.Contains(predNorm) ? 1 : 0,
            MultipleChoiceMetrics.TrueProbabilityMass(logLikelihoods, item.Gold),
            truncated,
            HashPrompt(item));
    }

    /// <summary>
    /// The first 8 bytes (hex) of SHA-256 over the item's full context and continuations, each UTF-8 and
    /// NUL-separated: a fingerprint of what the model was asked, cheap to store in every record.
    /// </summary>
    public static string HashPrompt(MultipleChoiceItem item)
    {
        using var sha = System.Security.Cryptography.IncrementalHash.CreateHash(System.Security.Cryptography.HashAlgorithmName.SHA256);
        sha.AppendData(System.Text.Encoding.UTF8.GetBytes(item.FullContext));
        foreach (var c in item.Continuations)
        {
            sha.AppendData([0]);
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(c));
        }
        return Convert.ToHexStringLower(sha.GetHashAndReset().AsSpan(0, 8));
    }
}
