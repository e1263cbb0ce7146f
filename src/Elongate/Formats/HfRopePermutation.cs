namespace Elongate.Formats;

/// <summary>
/// Converts query/key projection rows between RoPE layouts. Meta's checkpoints (and llama2.c, GGUF, this library)
/// rotate adjacent pairs (2i, 2i+1) of each head; Hugging Face's Llama rotates "halves", pairing i with i + r/2.
/// transformers' convert_llama_weights_to_hf.py therefore reorders the rows of q_proj and k_proj per head: within
/// a head, Meta row 2i+j (j ∈ {0,1}) becomes HF row j·(r/2)+i. Both layouts give identical attention scores,
/// because q·k is invariant under applying the same row permutation to q and k.
/// With partial rotary embeddings (r &lt; head size) only the first r rows of each head are rotated and reordered;
/// the remaining rows pass through unchanged in both layouts.
/// </summary>
public static class HfRopePermutation
{
    /// <summary>Meta adjacent-pair rows → HF rotate-half rows (transformers' <c>permute</c>).</summary>
    /// <param name="weights">Row-major [numHeads·headDim, columns].</param>
    /// <param name="numHeads">Heads in this projection (n_heads for q, n_kv_heads for k).</param>
    /// <param name="headDim">Rows per head.</param>
    /// <param name="columns">Row length (the model width).</param>
    /// <param name="rotaryDim">Rotated rows per head; even, at most <paramref name="headDim"/>.</param>
    public static float[] Permute(ReadOnlySpan<float> weights, int numHeads, int headDim, int columns, int rotaryDim) =>
        Reorder(weights, numHeads, headDim, columns, rotaryDim, toHf: true);

    /// <summary>HF rotate-half rows → Meta adjacent-pair rows; the inverse of <see cref="Permute"/>.</summary>
    public static float[] Unpermute(ReadOnlySpan<float> weights, int numHeads, int headDim, int columns, int rotaryDim) =>
        Reorder(weights, numHeads, headDim, columns, rotaryDim, toHf: false);

    /// <summary>Index within a head of the HF row that holds Meta row <paramref name="metaRow"/>.</summary>
    public static int HfRowOf(int metaRow, int rotaryDim) =>
        metaRow >= rotaryDim ? metaRow : (metaRow & 1) * (rotaryDim / 2) + (metaRow >> 1);

    private static float[] Reorder(ReadOnlySpan<float> w, int numHeads, int headDim, int columns, int rotaryDim, bool toHf)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(numHeads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 0);
        if (rotaryDim < 0 || rotaryDim > headDim || rotaryDim % 2 != 0)
            throw new ArgumentOutOfRangeException(nameof(rotaryDim), rotaryDim, $"must be even and within the head size {headDim}");
        if (w.Length != (long)numHeads * headDim * columns)
            throw new ArgumentException($"expected {numHeads}×{headDim}×{columns} values, got {w.Length}", nameof(w));
        var result = new float[w.Length];
        for (int h = 0; h < numHeads; h++)
        {
            int headBase = h * headDim;
            for (int metaRow = 0; metaRow < headDim; metaRow++)
            {
                int hfRow = HfRowOf(metaRow, rotaryDim);
                int from = headBase + (toHf ? metaRow : hfRow), to = headBase + (toHf ? hfRow : metaRow);
                w.Slice(from * columns, columns).CopyTo(result.AsSpan(to * columns, columns));
            }
        }
        return result;
    }
}
