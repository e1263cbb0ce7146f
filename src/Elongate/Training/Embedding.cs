using System.Numerics;
using System.Numerics.Tensors;

namespace Elongate.Training;

/// <summary>Token embedding lookup: row t of the output is row tokens[t] of the [vocab, dim] table.</summary>
public static class Embedding
{
    /// <summary>output[t] = table[tokens[t]] (overwrites output).</summary>
    public static void Forward<T>(Span<T> output, ReadOnlySpan<int> tokens, ReadOnlySpan<T> table, int dim)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vocab = table.Length / dim;
        for (int t = 0; t < tokens.Length; t++)
        {
            int tok = tokens[t];
            if ((uint)tok >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tok} at {t} is outside the vocabulary of {vocab}");
            table.Slice(tok * dim, dim).CopyTo(output.Slice(t * dim, dim));
        }
    }

    /// <summary>dTable[tokens[t]] += dOutput[t]; a token seen twice collects both gradients.</summary>
    public static void Backward<T>(Span<T> dTable, ReadOnlySpan<T> dOutput, ReadOnlySpan<int> tokens, int dim)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int vocab = dTable.Length / dim;
        for (int t = 0; t < tokens.Length; t++)
        {
            int tok = tokens[t];
            if ((uint)tok >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tok} at {t} is outside the vocabulary of {vocab}");
            var row = dTable.Slice(tok * dim, dim);
            TensorPrimitives.Add(row, dOutput.Slice(t * dim, dim), row);
        }
    }
}
