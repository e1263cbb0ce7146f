using System.Text.Json.Serialization;

namespace Elongate.Training;

/// <summary>One line of metrics.jsonl: the state after optimizer step <see cref="Step"/> (1-based).</summary>
/// <param name="Step">Steps completed.</param>
/// <param name="Loss">Mean training cross-entropy of this step's sequences (nats per token).</param>
/// <param name="LearningRate">Rate this step used.</param>
/// <param name="GradNorm">Global gradient norm before clipping.</param>
/// <param name="TokensPerSecond">Training tokens of this step divided by its wall time.</param>
/// <param name="Tokens">Training tokens seen so far.</param>
/// <param name="ValidationLoss">Mean cross-entropy on the fixed validation windows, when evaluated at this step.</param>
/// <param name="ElapsedSeconds">Wall time of the training so far (across resumes).</param>
public sealed record TrainingMetrics(
    [property: JsonPropertyName("step")] int Step,
    [property: JsonPropertyName("loss")] float Loss,
    [property: JsonPropertyName("lr")] float LearningRate,
    [property: JsonPropertyName("grad_norm")] float GradNorm,
    [property: JsonPropertyName("tokens_per_s")] double TokensPerSecond,
    [property: JsonPropertyName("tokens")] long Tokens,
    [property: JsonPropertyName("val_loss")] float? ValidationLoss,
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds);
