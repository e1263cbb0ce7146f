using System.Numerics;
using System.Numerics.Tensors;
using Elongate.Kernels;

namespace Elongate.Tests.Oracles;

/// <summary>
/// Textbook causal grouped-query attention that materializes the [B, n_heads, T, T] probability matrix. It is the
/// test oracle for <see cref="FlashAttention"/> and is O(T²) in memory; training and prompt processing do not use it.
/// Layouts and masking are those of <see cref="FlashAttention"/>.
/// </summary>
public static class NaiveAttention
{
    /// <summary>output = softmax(mask(Q·Kᵀ/√d))·V; the probabilities are kept in probs, [B, n_heads, T, T].</summary>
    public static void Forward<T>(Span<T> output, Span<T> probs, ReadOnlySpan<T> q, ReadOnlySpan<T> k, ReadOnlySpan<T> v,
        AttentionShape shape, ReadOnlySpan<int> segments = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        shape.Check(Math.Min(q.Length, output.Length), Math.Min(k.Length, v.Length), segments);
        int B = shape.Batch, Tn = shape.SeqLen, nh = shape.NumHeads, hd = shape.HeadDim, qDim = shape.QDim, kvDim = shape.KvDim;
        if (probs.Length < (long)B * nh * Tn * Tn) throw new ArgumentException("probs is shorter than [B, n_heads, T, T]");
        T scale = T.One / T.Sqrt(T.CreateChecked(hd));
        for (int b = 0; b < B; b++)
            for (int h = 0; h < nh; h++)
                for (int t = 0; t < Tn; t++)
                {
                    int g = h / shape.Group;
                    var qRow = q.Slice((b * Tn + t) * qDim + h * hd, hd);
                    var p = probs.Slice(((b * nh + h) * Tn + t) * Tn, Tn);
                    T max = T.NegativeInfinity;
                    for (int s = 0; s < Tn; s++)
                    {
                        if (!Visible(segments, b, Tn, t, s)) { p[s] = T.NegativeInfinity; continue; }
                        p[s] = TensorPrimitives.Dot(qRow, k.Slice((b * Tn + s) * kvDim + g * hd, hd)) * scale;
                        if (p[s] > max) max = p[s];
                    }
                    T sum = T.Zero;
                    for (int s = 0; s < Tn; s++) { p[s] = T.Exp(p[s] - max); sum += p[s]; }
                    for (int s = 0; s < Tn; s++) p[s] /= sum;
                    var o = output.Slice((b * Tn + t) * qDim + h * hd, hd);
                    o.Clear();
                    for (int s = 0; s < Tn; s++)
                        if (p[s] != T.Zero) TensorPrimitives.MultiplyAdd(v.Slice((b * Tn + s) * kvDim + g * hd, hd), p[s], o, o);
                }
    }

    /// <summary>Accumulates dQ, dK, dV (+=) through the saved probabilities.</summary>
    public static void Backward<T>(Span<T> dq, Span<T> dk, Span<T> dv, ReadOnlySpan<T> dOutput, ReadOnlySpan<T> q,
        ReadOnlySpan<T> k, ReadOnlySpan<T> v, ReadOnlySpan<T> probs, AttentionShape shape, ReadOnlySpan<int> segments = default)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        shape.Check(Math.Min(Math.Min(q.Length, dq.Length), dOutput.Length), Math.Min(Math.Min(k.Length, v.Length), Math.Min(dk.Length, dv.Length)), segments);
        int B = shape.Batch, Tn = shape.SeqLen, nh = shape.NumHeads, hd = shape.HeadDim, qDim = shape.QDim, kvDim = shape.KvDim;
        if (probs.Length < (long)B * nh * Tn * Tn) throw new ArgumentException("probs is shorter than [B, n_heads, T, T]");
        T scale = T.One / T.Sqrt(T.CreateChecked(hd));
        var dp = new T[Tn];
        for (int b = 0; b < B; b++)
            for (int h = 0; h < nh; h++)
                for (int t = 0; t < Tn; t++)
                {
                    int g = h / shape.Group;
                    var p = probs.Slice(((b * nh + h) * Tn + t) * Tn, Tn);
                    var doRow = dOutput.Slice((b * Tn + t) * qDim + h * hd, hd);
                    // dP = dO·Vᵀ, then the softmax Jacobian: dS = P ⊙ (dP − Σ P⊙dP).
                    T dot = T.Zero;
                    for (int s = 0; s < Tn; s++)
                    {
                        dp[s] = TensorPrimitives.Dot(doRow, v.Slice((b * Tn + s) * kvDim + g * hd, hd));
                        dot += p[s] * dp[s];
                        var dvRow = dv.Slice((b * Tn + s) * kvDim + g * hd, hd);
                        TensorPrimitives.MultiplyAdd(doRow, p[s], dvRow, dvRow);
                    }
                    var qRow = q.Slice((b * Tn + t) * qDim + h * hd, hd);
                    var dqRow = dq.Slice((b * Tn + t) * qDim + h * hd, hd);
                    for (int s = 0; s < Tn; s++)
                    {
                        T ds = p[s] * (dp[s] - dot) * scale;
                        if (ds == T.Zero) continue;
                        TensorPrimitives.MultiplyAdd(k.Slice((b * Tn + s) * kvDim + g * hd, hd), ds, dqRow, dqRow);
                        var dkRow = dk.Slice((b * Tn + s) * kvDim + g * hd, hd);
                        TensorPrimitives.MultiplyAdd(qRow, ds, dkRow, dkRow);
                    }
                }
    }

    private static bool Visible(ReadOnlySpan<int> segments, int b, int seqLen, int t, int s)
        => s <= t && (segments.IsEmpty || segments[b * seqLen + s] == segments[b * seqLen + t]);
}
