namespace Elongate.Training;

/// <summary>What a finished <see cref="Trainer.Run"/> reports: where it stands, the last losses, mean speed and the files written.</summary>
public sealed record TrainingSummary(int Steps, long Tokens, float? FinalLoss, float? FinalValidationLoss, double TokensPerSecond,
    string GgufPath, string SafetensorsFolder, string LossPlotPath, string MetricsPath);
