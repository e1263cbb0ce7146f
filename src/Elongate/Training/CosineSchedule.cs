namespace Elongate.Training;

/// <summary>
/// Learning rate with linear warmup then cosine decay to a floor, Llama 2's schedule (warmup 2000 steps, decay to
/// 10% of the peak). Step s (0-based) of warmup gets peak·(s+1)/warmup, so the first step is not wasted at zero.
/// </summary>
/// <param name="PeakLearningRate">Rate at the end of warmup.</param>
/// <param name="MinLearningRate">Floor reached at <paramref name="TotalSteps"/> and kept after.</param>
/// <param name="WarmupSteps">Steps of linear warmup.</param>
/// <param name="TotalSteps">Step at which the cosine reaches the floor.</param>
public sealed record CosineSchedule(float PeakLearningRate, float MinLearningRate, int WarmupSteps, int TotalSteps)
{
    /// <summary>The learning rate for 0-based step <paramref name="step"/>.</summary>
    public float At(int step)
    {
        if (step < WarmupSteps) return PeakLearningRate * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLearningRate;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return (float)(MinLearningRate + 0.5 * (1 + Math.Cos(Math.PI * progress)) * (PeakLearningRate - MinLearningRate));
    }
}
