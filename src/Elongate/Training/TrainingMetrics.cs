using System.Text.Json;
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
    [property: JsonPropertyName("elapsed_s")] double ElapsedSeconds)
{
    /// <summary>True when the step's batch was skipped (non-finite loss or gradient under --skip-nonfinite): no update was applied.</summary>
    [JsonPropertyName("skipped")]
    public bool? Skipped { get; init; }

    /// <summary>A warning raised at this step (loss spike, dead gradients), also printed by the CLI.</summary>
    [JsonPropertyName("warning")]
    public string? Warning { get; init; }

    /// <summary>Input format of the linear layers' matrix products ("bf16"); omitted for fp32 (<see cref="TrainerOptions.MatmulPrecision"/>).</summary>
    [JsonPropertyName("precision")]
    public string? Precision { get; init; }

    /// <summary>Processes of a data-parallel run (MPI ranks); omitted for a single process.</summary>
    [JsonPropertyName("world_size")]
    public int? WorldSize { get; init; }

    /// <summary>Milliseconds of this step spent in communication (gradient allreduce, loss gather) on rank 0; omitted for a single process.</summary>
    [JsonPropertyName("comm_ms")]
    public double? CommMilliseconds { get; init; }

    /// <summary>
    /// How metrics.jsonl is written and read: nulls omitted, and NaN/∞ written as the strings "NaN"/"Infinity" so a
    /// skipped batch's non-finite loss is recorded rather than crashing the writer.
    /// </summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}
