using Elongate.Model;
using Elongate.Rope;

namespace Elongate.Training;

/// <summary>
/// Puts the config's RoPE (base, scaling type, xPos) into a training model's rotary tables, using the same
/// <see cref="RotaryEmbedding"/> the inference session uses, so a model trained here runs with identical rotations.
/// </summary>
/// <remarks>
/// Length-dependent types (dynamic NTK, longrope) use the frequencies for the whole training length T for every
/// row: during training all T positions are processed at once, the regime <see cref="RotaryEmbedding"/> serves with
/// <c>GetTable(T)</c>. xPos is centred at T/2 (any centre gives the same logits in exact arithmetic).
/// </remarks>
internal static class TrainingRope
{
    public static void Apply(LlamaTrainingModel<float> model)
    {
        var c = model.Config;
        int T = model.SeqLen;
        var rope = new RotaryEmbedding(c.RopeTheta, c.RotaryDim, c.HeadDim, c.RopeScaling, xposCentre: T / 2);
        var table = rope.GetTable(T);
        int pairs = table.Pairs;
        var cos = new float[T * pairs];
        var sin = new float[T * pairs];
        float[]? qs = rope.Scaling.HasXpos ? new float[T * pairs] : null;
        float[]? ks = rope.Scaling.HasXpos ? new float[T * pairs] : null;
        for (int p = 0; p < T; p++)
        {
            table.Cos(p).CopyTo(cos.AsSpan(p * pairs));
            table.Sin(p).CopyTo(sin.AsSpan(p * pairs));
            if (qs is not null)
            {
                table.XposScale(p, RopeRole.Query).CopyTo(qs.AsSpan(p * pairs));
                table.XposScale(p, RopeRole.Key).CopyTo(ks!.AsSpan(p * pairs));
            }
        }
        model.SetRope(cos, sin, qs, ks);
    }
}
