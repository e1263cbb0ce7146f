namespace Elongate.Kernels;

/// <summary>Numerically stable softmax in place (subtract the maximum before exponentiating).</summary>
public static class Softmax
{
    public static void Forward(Span<float> x)
    {
        if (x.IsEmpty) return;
        float max = x[0];
        for (int i = 1; i < x.Length; i++) if (x[i] > max) max = x[i];
        float sum = 0f;
        for (int i = 0; i < x.Length; i++) { x[i] = MathF.Exp(x[i] - max); sum += x[i]; }
        float inv = 1f / sum;
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }
}
