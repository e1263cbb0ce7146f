using System.Numerics.Tensors;

namespace Elongate.Training;

/// <summary>
/// AdamW (Loshchilov &amp; Hutter 2019) over fp32 master weights with Llama 2's settings (Touvron et al. 2023 §2.2):
/// β1 0.9, β2 0.95, ε 1e-5, weight decay 0.1, gradients clipped to global norm 1.0. Decay is decoupled and, as in
/// PyTorch, applied before the Adam step: p ← p·(1 − lr·λ) − lr·m̂/(√v̂ + ε).
/// Weight decay applies to matrices only, not to 1-D norm gains (decaying a gain pulls the model toward zero output
/// scale, which the norm exists to set). Embeddings are matrices and ARE decayed, the GPT-3/nanoGPT/llm.c choice;
/// it also keeps a tied embedding/output matrix under one rule.
/// </summary>
public sealed class AdamW
{
    private readonly IReadOnlyList<ParameterTensor> _tensors;
    private readonly float[] _m, _v;

    /// <summary>Decay of the first-moment average.</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Decay of the second-moment average; 0.95 rather than Adam's 0.999 reacts faster to gradient spikes.</summary>
    public float Beta2 { get; init; } = 0.95f;

    /// <summary>Added to √v̂ so tiny second moments do not blow the step up.</summary>
    public float Epsilon { get; init; } = 1e-5f;

    /// <summary>Decoupled weight decay λ, applied to matrices only.</summary>
    public float WeightDecay { get; init; } = 0.1f;

    /// <summary>Global gradient norm above which gradients are scaled down to it; 0 or less disables clipping.</summary>
    public float MaxGradNorm { get; init; } = 1f;

    /// <summary>Steps taken so far (bias correction uses it).</summary>
    public int StepCount { get; private set; }

    /// <param name="tensors">The parameters to update and whether each decays; elements outside them are left alone.</param>
    /// <param name="parameterCount">Length of the flat parameter buffer.</param>
    public AdamW(IReadOnlyList<ParameterTensor> tensors, int parameterCount)
    {
        foreach (var t in tensors)
            if (t.Offset < 0 || (long)t.Offset + t.Length > parameterCount)
                throw new ArgumentException($"tensor {t.Name} lies outside the {parameterCount} parameters", nameof(tensors));
        _tensors = tensors;
        _m = new float[parameterCount];
        _v = new float[parameterCount];
    }

    /// <summary>Optimizer for a training model's own parameters.</summary>
    public AdamW(LlamaTrainingModel<float> model) : this(model.Tensors, model.Parameters.Length) { }

    /// <summary>First-moment averages m, laid out like the parameters; checkpoints save them so a resumed run steps identically.</summary>
    public ReadOnlyMemory<float> FirstMoments => _m;

    /// <summary>Second-moment averages v, laid out like the parameters.</summary>
    public ReadOnlyMemory<float> SecondMoments => _v;

    /// <summary>Restores moments and step count saved from an optimizer over the same parameters.</summary>
    public void RestoreState(ReadOnlySpan<float> firstMoments, ReadOnlySpan<float> secondMoments, int stepCount)
    {
        if (firstMoments.Length != _m.Length || secondMoments.Length != _v.Length)
            throw new ArgumentException($"expected {_m.Length} moments, got {firstMoments.Length} and {secondMoments.Length}");
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        firstMoments.CopyTo(_m);
        secondMoments.CopyTo(_v);
        StepCount = stepCount;
    }

    /// <summary>
    /// Clips <paramref name="gradients"/> in place to the global norm, updates <paramref name="parameters"/>, and
    /// returns the gradient norm before clipping (the number worth logging). A non-finite norm (a NaN or ∞ anywhere in
    /// the gradients) changes nothing — parameters, moments and step count stay as they were — so the caller can stop
    /// or skip the batch with the model still intact.
    /// </summary>
    public float Step(float[] parameters, float[] gradients, float learningRate)
    {
        if (parameters.Length != _m.Length || gradients.Length != _m.Length)
            throw new ArgumentException($"expected {_m.Length} parameters and gradients, got {parameters.Length} and {gradients.Length}");
        double sq = 0;
        foreach (var t in _tensors)
        {
            float n = TensorPrimitives.Norm(gradients.AsSpan(t.Offset, t.Length));
            sq += (double)n * n;
        }
        float norm = (float)Math.Sqrt(sq);
        if (!float.IsFinite(norm)) return norm;
        float clip = MaxGradNorm > 0 && norm > MaxGradNorm ? MaxGradNorm / norm : 1f;
        StepCount++;
        float bc1 = 1f - MathF.Pow(Beta1, StepCount), bc2 = 1f - MathF.Pow(Beta2, StepCount);
        foreach (var t in _tensors)
        {
            float decay = t.IsMatrix ? 1f - learningRate * WeightDecay : 1f;
            for (int i = t.Offset, end = t.Offset + t.Length; i < end; i++)
            {
                float g = gradients[i] * clip;
                gradients[i] = g;
                float m = _m[i] = Beta1 * _m[i] + (1f - Beta1) * g;
                float v = _v[i] = Beta2 * _v[i] + (1f - Beta2) * g * g;
                parameters[i] = parameters[i] * decay - learningRate * (m / bc1) / (MathF.Sqrt(v / bc2) + Epsilon);
            }
        }
        return norm;
    }
}
