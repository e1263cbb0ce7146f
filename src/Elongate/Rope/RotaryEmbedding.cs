using Elongate.Common;

namespace Elongate.Rope;

/// <summary>
/// The rotary embedding the forward pass uses: frequencies from <see cref="RopeTypes"/>, cos/sin tables computed once
/// per frequency set (double, rounded to float, attention factor folded in as HF does: cos·mscale, sin·mscale), the
/// xPos query/key scales, and Apply methods for both pair layouts.
/// </summary>
/// <remarks>
/// <para><b>The length rule (dynamic NTK and longrope).</b> These types choose frequencies from the sequence length.
/// Elongate fixes one causal rule: <i>the logits at position p are computed with the frequencies for length
/// ℓ = p + 1</i> (dynamic: ℓ' = max(p+1, L); longrope: short factors while p+1 ≤ L, long factors after), and
/// <i>every key the query at p attends to is rotated with that same frequency set</i>. Position p's logits then depend
/// only on tokens 0..p, so one long prompt and the same text fed token by token give identical logits.</para>
/// <para>Transformers does not do this (issue #25104): with a whole prompt it rotates every row with the frequencies
/// of the full prompt length (so early rows see future-length-dependent positions), and token by token it rotates the
/// new query with the new frequencies while the cached keys keep the old ones; the two disagree past L.</para>
/// <para><b>What the forward pass must do</b> when <see cref="IsLengthDependent"/> is true: store keys in the KV cache
/// <i>unrotated</i> (post-projection, pre-RoPE). For each query position p, take <c>table = GetTable(p + 1)</c>; rotate
/// the query with <c>table.Apply…(q, p, RopeRole.Query)</c> and each cached key j ≤ p into a scratch buffer with
/// <c>table.Apply…(k_j, j, RopeRole.Key)</c>, then score as usual. For a prompt the queries at p ≤ L−1 all share one
/// table (ℓ' = L), so only rows past L pay for re-rotation (O(p·d) per row, the same order as the q·k products it
/// feeds). When <see cref="IsLengthDependent"/> is false, keys may be rotated once at insertion and cached rotated;
/// call <c>GetTable(n)</c> with any n covering the positions used.</para>
/// <para><b>xPos.</b> Queries get ζ_j^((n−c)/B), keys ζ_j^(−(m−c)/B), so q·k carries ζ_j^((n−m)/B): relative, whatever
/// the centre c. torchscale recentres with the total length (c = ⌈T/2⌉), which would change cached keys' scales as T
/// grows; Elongate fixes c at construction (<c>xposCentre</c>) so keys can be cached scaled. In exact arithmetic the
/// logits equal torchscale's for any c; c only keeps ζ^(±n/B) inside float range (choose about half the maximum
/// context for very long sequences).</para>
/// <para>Not thread-safe while a table is being built: call <see cref="GetTable"/> on one thread per step, then share
/// the returned table across heads and layers. A table returned for a dynamic length above L stays valid until
/// <see cref="GetTable"/> is next called with a different such length.</para>
/// </remarks>
public sealed class RotaryEmbedding
{
    private readonly double[]? _zeta;
    private RopeTable? _static;      // length-independent types, and dynamic/longrope up to L
    private RopeTable? _long;        // longrope past L (static within that regime)
    private RopeTable? _dynamic;     // dynamic past L: the most recent length
    private readonly int _xposCentre;

    /// <summary>RoPE base b.</summary>
    public double Base { get; }

    /// <summary>Rotated leading dimensions of each head (even, ≤ head size).</summary>
    public int RotaryDim { get; }

    /// <summary>Head size; entries past <see cref="RotaryDim"/> pass through unchanged.</summary>
    public int HeadDim { get; }

    /// <summary>The scaling in force (<see cref="RopeScaling.None"/> when constructed with null).</summary>
    public RopeScaling Scaling { get; }

    /// <summary>True for dynamic and longrope: keys must be cached unrotated (see remarks).</summary>
    public bool IsLengthDependent => Scaling.IsLengthDependent;

    /// <summary>Creates the embedding; validates the scaling (throws <see cref="Common.ModelFormatException"/>).</summary>
    public RotaryEmbedding(double ropeBase, int rotaryDim, int headDim, RopeScaling? scaling = null, int xposCentre = 0)
    {
        if (!double.IsFinite(ropeBase) || ropeBase <= 1) throw new ArgumentOutOfRangeException(nameof(ropeBase), ropeBase, "RoPE base must be a finite number above 1");
        if (rotaryDim < 2 || rotaryDim % 2 != 0 || rotaryDim > headDim)
            throw new ArgumentOutOfRangeException(nameof(rotaryDim), rotaryDim, $"rotary dimension must be even, ≥ 2 and ≤ head size {headDim}");
        Base = ropeBase; RotaryDim = rotaryDim; HeadDim = headDim;
        Scaling = scaling ?? RopeScaling.None;
        Scaling.Validate("<rope settings>", rotaryDim: rotaryDim);
        _xposCentre = xposCentre;
        if (Scaling.HasXpos) _zeta = RopeTypes.XposZeta(rotaryDim);
    }

    /// <summary>The frequencies and attention factor that serve a sequence of <paramref name="currentLength"/> positions.</summary>
    public RopeFrequencies FrequenciesFor(int currentLength) => RopeTypes.Compute(Base, RotaryDim, Scaling, currentLength);

    /// <summary>
    /// The table to use for the query at position <paramref name="currentLength"/> − 1 and every key it attends to;
    /// covers positions [0, currentLength). Reuses and grows cached tables; allocates only when a table must grow.
    /// </summary>
    public RopeTable GetTable(int currentLength)
    {
        if (currentLength < 1) throw new ArgumentOutOfRangeException(nameof(currentLength), currentLength, "must be at least 1");
        RopeTable table;
        int l = Scaling.OriginalContext ?? int.MaxValue;
        if (!IsLengthDependent || currentLength <= l)
        {
            _static ??= NewTable(IsLengthDependent ? l : 1);
            table = _static;
        }
        else if (Scaling.Type == RopeTypes.LongRope)
        {
            _long ??= NewTable(currentLength);
            table = _long;
        }
        else
        {
            if (_dynamic is null) _dynamic = NewTable(currentLength);
            else if (_dynamic.FrequencyLength != currentLength) _dynamic.Rebuild(FrequenciesFor(currentLength), currentLength);
            table = _dynamic;
        }
        table.EnsureLength(currentLength);
        return table;
    }

    private RopeTable NewTable(int frequencyLength) =>
        new(FrequenciesFor(frequencyLength), frequencyLength, _zeta, Scaling.XposScaleBase, _xposCentre);
}
