namespace Elongate.Rope;

/// <summary>
/// Precomputed cos/sin (attention factor folded in, as HF does) and xPos scales for one frequency set, for positions
/// [0, <see cref="Length"/>). Values are computed in double and rounded once to float. Row p holds rotaryDim/2 entries.
/// Applying a table to a head allocates nothing.
/// </summary>
public sealed class RopeTable
{
    private float[] _cos = [], _sin = [], _xq = [], _xk = [];
    private double[] _inv;
    private readonly double[]? _zetaLog; // ln ζ_j / scale_base, xPos only
    private readonly int _xposCentre;

    /// <summary>Rotated pairs per head (rotaryDim/2).</summary>
    public int Pairs { get; }

    /// <summary>Positions currently covered.</summary>
    public int Length { get; private set; }

    /// <summary>The frequencies this table was built from.</summary>
    public RopeFrequencies Frequencies { get; private set; }

    /// <summary>The sequence length whose frequencies these are (matters only for dynamic/longrope).</summary>
    public int FrequencyLength { get; private set; }

    internal RopeTable(RopeFrequencies frequencies, int frequencyLength, double[]? xposZeta, double xposScaleBase, int xposCentre)
    {
        Frequencies = frequencies;
        FrequencyLength = frequencyLength;
        _inv = frequencies.InverseFrequencies;
        Pairs = _inv.Length;
        _xposCentre = xposCentre;
        if (xposZeta is not null)
        {
            _zetaLog = new double[Pairs];
            for (int j = 0; j < Pairs; j++) _zetaLog[j] = Math.Log(xposZeta[j]) / xposScaleBase;
        }
    }

    /// <summary>Switches to another frequency set of the same size, keeping the buffers (dynamic NTK past L).</summary>
    internal void Rebuild(RopeFrequencies frequencies, int frequencyLength)
    {
        if (frequencies.InverseFrequencies.Length != Pairs) throw new ArgumentException("pair count changed", nameof(frequencies));
        Frequencies = frequencies;
        FrequencyLength = frequencyLength;
        _inv = frequencies.InverseFrequencies;
        Length = 0;
    }

    /// <summary>Makes the table cover at least <paramref name="length"/> positions (capacity grows geometrically).</summary>
    internal void EnsureLength(int length)
    {
        if (length <= Length) return;
        int capacityRows = _cos.Length / Math.Max(Pairs, 1);
        if (length > capacityRows)
        {
            int rows = Math.Max(length, Math.Max(64, capacityRows * 2));
            Array.Resize(ref _cos, rows * Pairs);
            Array.Resize(ref _sin, rows * Pairs);
            if (_zetaLog is not null) { Array.Resize(ref _xq, rows * Pairs); Array.Resize(ref _xk, rows * Pairs); }
        }
        double m = Frequencies.AttentionFactor;
        for (int p = Length; p < length; p++)
        {
            int row = p * Pairs;
            for (int i = 0; i < Pairs; i++)
            {
                double angle = p * _inv[i];
                _cos[row + i] = (float)(Math.Cos(angle) * m);
                _sin[row + i] = (float)(Math.Sin(angle) * m);
            }
            if (_zetaLog is not null)
                for (int j = 0; j < Pairs; j++)
                {
                    double e = (p - _xposCentre) * _zetaLog[j];
                    _xq[row + j] = (float)Math.Exp(e);
                    _xk[row + j] = (float)Math.Exp(-e);
                }
        }
        Length = length;
    }

    /// <summary>cos(p·θ_i)·attention factor for i in [0, Pairs).</summary>
    public ReadOnlySpan<float> Cos(int position) => _cos.AsSpan(Row(position), Pairs);

    /// <summary>sin(p·θ_i)·attention factor for i in [0, Pairs).</summary>
    public ReadOnlySpan<float> Sin(int position) => _sin.AsSpan(Row(position), Pairs);

    /// <summary>
    /// xPos magnitude per pair at <paramref name="position"/>: ζ_j^((p−c)/B) for queries, ζ_j^(−(p−c)/B) for keys
    /// (c = centre). Empty when the type is not xpos.
    /// </summary>
    public ReadOnlySpan<float> XposScale(int position, RopeRole role) =>
        _zetaLog is null ? ReadOnlySpan<float>.Empty : (role == RopeRole.Query ? _xq : _xk).AsSpan(Row(position), Pairs);

    private int Row(int position)
    {
        if ((uint)position >= (uint)Length) throw new ArgumentOutOfRangeException(nameof(position), position, $"table covers positions [0, {Length})");
        return position * Pairs;
    }

    /// <summary>
    /// Rotates pairs (2i, 2i+1) of the first rotaryDim entries of each of <paramref name="heads"/> heads of
    /// <paramref name="headDim"/> in <paramref name="row"/> (Meta, llama2.c, GGUF layout) for <paramref name="position"/>,
    /// with the shared rotation kernel.
    /// </summary>
    public void ApplyAdjacent(Span<float> row, int position, RopeRole role, int heads, int headDim) =>
        Kernels.RopeRotation.Forward(row, 1, 1, heads, headDim, 2 * Pairs, Cos(position), Sin(position), XposScale(position, role));

    /// <summary>Rotates one head (its first rotaryDim entries, adjacent pairs) for <paramref name="position"/>.</summary>
    public void ApplyAdjacent(Span<float> head, int position, RopeRole role = RopeRole.Query)
    {
        if (head.Length < 2 * Pairs) throw new ArgumentException($"head has {head.Length} entries, rotary part needs {2 * Pairs}", nameof(head));
        ApplyAdjacent(head, position, role, 1, head.Length);
    }
}
