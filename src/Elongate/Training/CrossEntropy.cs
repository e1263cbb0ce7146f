using System.Numerics;

namespace Elongate.Training;

/// <summary>
/// Fused softmax + cross-entropy. The forward keeps only each row's log-sum-exp, not a [rows, vocab] probability
/// matrix; the backward rebuilds softmax from logits and that statistic and may write the gradient over the
/// logits themselves. Rows whose target equals the ignore index (padding, prompt tokens) add nothing to the loss
/// or the gradient, and the loss is the mean over the rows that remain, as PyTorch's ignore_index does.
/// </summary>
public static class CrossEntropy
{
    /// <summary>The ignore index PyTorch and Hugging Face use for masked targets.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>Returns the mean of −log softmax(logits[t])[targets[t]] over non-ignored rows (0 when all are ignored).</summary>
    /// <param name="logits">[rows, vocab].</param>
    /// <param name="logSumExp">Receives log Σ exp(logits[t]) per row, [rows].</param>
    public static unsafe T Forward<T>(ReadOnlySpan<T> logits, Span<T> logSumExp, ReadOnlySpan<int> targets, int rows, int vocab,
        int ignoreIndex = DefaultIgnoreIndex)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(logits.Length, logSumExp.Length, targets, rows, vocab, ignoreIndex);
        fixed (T* pl = logits, ps = logSumExp)
        {
            nint lp = (nint)pl, sp = (nint)ps;
            // Rows are independent; with a large vocabulary this is the costliest non-matmul step.
            MatrixProducts.ParallelRange(rows, (long)rows * vocab * 8, (t0, t1) =>
            {
                for (int t = t0; t < t1; t++)
                {
                    var row = new ReadOnlySpan<T>((T*)lp + (long)t * vocab, vocab);
                    T max = row[0];
                    for (int i = 1; i < vocab; i++) if (row[i] > max) max = row[i];
                    T sum = T.Zero;
                    for (int i = 0; i < vocab; i++) sum += T.Exp(row[i] - max);
                    ((T*)sp)[t] = max + T.Log(sum);
                }
            });
        }
        double total = 0;
        int counted = 0;
        for (int t = 0; t < rows; t++)
        {
            if (targets[t] == ignoreIndex) continue;
            total += double.CreateChecked(logSumExp[t] - logits[t * vocab + targets[t]]);
            counted++;
        }
        return counted == 0 ? T.Zero : T.CreateChecked(total / counted);
    }

    /// <summary>
    /// dLogits[t] = dLoss/N·(softmax(logits[t]) − onehot(targets[t])), zero on ignored rows, N the non-ignored
    /// count. Overwrites dLogits, which may be the logits span itself (each element is read before it is written).
    /// </summary>
    public static unsafe void Backward<T>(Span<T> dLogits, ReadOnlySpan<T> logits, ReadOnlySpan<T> logSumExp, ReadOnlySpan<int> targets,
        int rows, int vocab, T dLoss, int ignoreIndex = DefaultIgnoreIndex)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(logits.Length, logSumExp.Length, targets, rows, vocab, ignoreIndex);
        if (dLogits.Length < (long)rows * vocab) throw new ArgumentException($"dLogits holds {dLogits.Length} values, need [{rows}, {vocab}]");
        int counted = 0;
        for (int t = 0; t < rows; t++) if (targets[t] != ignoreIndex) counted++;
        T g = counted == 0 ? T.Zero : dLoss / T.CreateChecked(counted);
        fixed (T* pd = dLogits, pl = logits, ps = logSumExp)
        fixed (int* py = targets)
        {
            nint dp = (nint)pd, lp = (nint)pl, sp = (nint)ps, yp = (nint)py;
            MatrixProducts.ParallelRange(rows, (long)rows * vocab * 8, (t0, t1) =>
            {
                for (int t = t0; t < t1; t++)
                {
                    var d = new Span<T>((T*)dp + (long)t * vocab, vocab);
                    int y = ((int*)yp)[t];
                    if (y == ignoreIndex) { d.Clear(); continue; }
                    var row = new ReadOnlySpan<T>((T*)lp + (long)t * vocab, vocab);
                    T lse = ((T*)sp)[t];
                    for (int i = 0; i < vocab; i++) d[i] = g * T.Exp(row[i] - lse);
                    d[y] -= g;
                }
            });
        }
    }

    /// <summary>
    /// Returns Σ_t w_t·(−log softmax(logits[t])[targets[t]]) over non-ignored rows: the loss under per-token weights
    /// (<paramref name="weights"/>[t] = 1/N for the mean over N tokens of a whole step, or 1/(n_e·E) to give every one of
    /// E examples the same weight whatever its n_e loss tokens). Fills <paramref name="logSumExp"/> as
    /// <see cref="Forward{T}"/> does.
    /// </summary>
    public static T ForwardWeighted<T>(ReadOnlySpan<T> logits, Span<T> logSumExp, ReadOnlySpan<int> targets, ReadOnlySpan<T> weights,
        int rows, int vocab, int ignoreIndex = DefaultIgnoreIndex)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (weights.Length < rows) throw new ArgumentException($"weights hold {weights.Length} values, need {rows}");
        Forward(logits, logSumExp, targets, rows, vocab, ignoreIndex);
        double total = 0;
        for (int t = 0; t < rows; t++)
        {
            if (targets[t] == ignoreIndex) continue;
            total += double.CreateChecked(weights[t]) * double.CreateChecked(logSumExp[t] - logits[t * vocab + targets[t]]);
        }
        return T.CreateChecked(total);
    }

    /// <summary>
    /// dLogits[t] = w_t·(softmax(logits[t]) − onehot(targets[t])), zero on ignored rows: the gradient of
    /// <see cref="ForwardWeighted{T}"/>. Overwrites dLogits, which may be the logits span itself.
    /// </summary>
    public static unsafe void BackwardWeighted<T>(Span<T> dLogits, ReadOnlySpan<T> logits, ReadOnlySpan<T> logSumExp, ReadOnlySpan<int> targets,
        ReadOnlySpan<T> weights, int rows, int vocab, int ignoreIndex = DefaultIgnoreIndex)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Validate(logits.Length, logSumExp.Length, targets, rows, vocab, ignoreIndex);
        if (dLogits.Length < (long)rows * vocab) throw new ArgumentException($"dLogits holds {dLogits.Length} values, need [{rows}, {vocab}]");
        if (weights.Length < rows) throw new ArgumentException($"weights hold {weights.Length} values, need {rows}");
        fixed (T* pd = dLogits, pl = logits, ps = logSumExp, pw = weights)
        fixed (int* py = targets)
        {
            nint dp = (nint)pd, lp = (nint)pl, sp = (nint)ps, yp = (nint)py, wp = (nint)pw;
            MatrixProducts.ParallelRange(rows, (long)rows * vocab * 8, (t0, t1) =>
            {
                for (int t = t0; t < t1; t++)
                {
                    var d = new Span<T>((T*)dp + (long)t * vocab, vocab);
                    int y = ((int*)yp)[t];
                    T g = ((T*)wp)[t];
                    if (y == ignoreIndex || g == T.Zero) { d.Clear(); continue; }
                    var row = new ReadOnlySpan<T>((T*)lp + (long)t * vocab, vocab);
                    T lse = ((T*)sp)[t];
                    for (int i = 0; i < vocab; i++) d[i] = g * T.Exp(row[i] - lse);
                    d[y] -= g;
                }
            });
        }
    }

    private static void Validate(long logitsLength, long lseLength, ReadOnlySpan<int> targets, int rows, int vocab, int ignoreIndex)
    {
        if (rows < 0 || vocab <= 0 || logitsLength < (long)rows * vocab || lseLength < rows || targets.Length < rows)
            throw new ArgumentException($"cross-entropy shapes do not fit: logits {logitsLength}, lse {lseLength}, targets {targets.Length} for [{rows}, {vocab}]");
        for (int t = 0; t < rows; t++)
        {
            int y = targets[t];
            if (y != ignoreIndex && (uint)y >= (uint)vocab)
                throw new ArgumentOutOfRangeException(nameof(targets), $"target {y} at row {t} is outside the vocabulary of {vocab} and is not the ignore index {ignoreIndex}");
        }
    }
}
