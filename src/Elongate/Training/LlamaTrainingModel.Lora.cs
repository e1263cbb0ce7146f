using System.Numerics.Tensors;
using Elongate.Model;

namespace Elongate.Training;

/// <summary>
/// LoRA adapters of the training model (Hu et al. 2021, in Hugging Face PEFT's form): each targeted projection
/// y = x·Wᵀ computes y = x·Wᵀ + s·(x̃·Aᵀ)·Bᵀ, x̃ = dropout(x), A [r, in], B [out, r], s = alpha/r.
/// </summary>
/// <remarks>
/// <para>Adapter parameters live in their own flat buffer <see cref="LoraParameters"/> (per layer, per target in PEFT's
/// order q, k, v, o, gate, up, down: A then B), with gradients <see cref="LoraGradients"/> and names
/// <see cref="LoraTensors"/> (<c>blk.{l}.attn_q.lora_a</c> …), so an optimizer over them holds state for the
/// adapters only.</para>
/// <para>Backward of one adapter, given dY: dB += s·dYᵀ·u with u = x̃·Aᵀ saved by the forward ([rows, r] per
/// adapter); du = s·dY·B; dA += duᵀ·x̃; dX += (du·A) ⊙ mask/(1 − p). q and k adapters act before RoPE, on the
/// projection's output, exactly where the base weight acts.</para>
/// <para>Dropout masks are not stored: element i of adapter (l, target) is dropped when a SplitMix64 hash of
/// (<see cref="DropoutSeed"/>, l, target, i) falls below p, so the backward (and a checkpointing recompute)
/// regenerates the very same mask. Dropout acts only while <see cref="DropoutEnabled"/>.</para>
/// </remarks>
public sealed partial class LlamaTrainingModel<T>
{
    /// <summary>Adapter state: settings, buffers, offsets, saved u = x̃·Aᵀ per adapter, and scratch.</summary>
    private sealed class LoraState
    {
        public required LoraSettings Settings;
        public required T[] Parameters, Gradients;
        public required List<ParameterTensor> Tensors;
        /// <summary>Offset of A per [layer][slot] (−1: not adapted); B follows A.</summary>
        public required int[][] Offsets;
        /// <summary>u = x̃·Aᵀ per [layer][slot], [rows, r].</summary>
        public required T[]?[][] U;
        public required T[] Su, Du, Tmp, XDrop, DxDrop;
        public required T Scale;
    }

    private LoraState? _lora;

    /// <summary>The adapters' settings, or null when no adapter is attached.</summary>
    public LoraSettings? Lora => _lora?.Settings;

    /// <summary>Adapter parameters (A and B of every adapter); empty without adapters.</summary>
    public T[] LoraParameters => _lora?.Parameters ?? [];

    /// <summary>Adapter gradients, laid out like <see cref="LoraParameters"/>.</summary>
    public T[] LoraGradients => _lora?.Gradients ?? [];

    /// <summary>Names, offsets and shapes of the adapter matrices: <c>blk.{l}.{tensor}.lora_a</c> [r, in] and <c>.lora_b</c> [out, r].</summary>
    public IReadOnlyList<ParameterTensor> LoraTensors => _lora?.Tensors ?? [];

    /// <summary>Seed of the adapters' dropout masks; a trainer sets a new one per micro-batch.</summary>
    public ulong DropoutSeed { get; set; }

    /// <summary>Apply adapter dropout in the forward (training); off by default, for evaluation.</summary>
    public bool DropoutEnabled { get; set; }

    private static int Slot(TensorRole role) => role switch
    {
        TensorRole.Wq => 0, TensorRole.Wk => 1, TensorRole.Wv => 2, TensorRole.Wo => 3,
        TensorRole.WGate => 4, TensorRole.WUp => 5, TensorRole.WDown => 6,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "LoRA adapts the seven projections only"),
    };

    /// <summary>(in, out) of a projection.</summary>
    private (int In, int Out) ProjectionShape(TensorRole role) => role switch
    {
        TensorRole.Wq => (_dim, _qDim), TensorRole.Wk or TensorRole.Wv => (_dim, _kvDim), TensorRole.Wo => (_qDim, _dim),
        TensorRole.WGate or TensorRole.WUp => (_dim, _hid), TensorRole.WDown => (_hid, _dim),
        _ => throw new ArgumentOutOfRangeException(nameof(role)),
    };

    /// <summary>
    /// Attaches LoRA adapters to <paramref name="settings"/>' targets in every layer and freezes the base
    /// (<see cref="TrainBase"/> = false). A is initialised as PEFT does (nn.Linear's default, Kaiming-uniform with
    /// a = √5: U(−1/√in, 1/√in)) from <paramref name="seed"/>, B as zeros, so the model computes exactly what it did
    /// before.
    /// </summary>
    /// <exception cref="InvalidOperationException">Adapters are already attached.</exception>
    public void AddLora(LoraSettings settings, int seed)
    {
        settings.Validate();
        if (_lora is not null) throw new InvalidOperationException("the model already has LoRA adapters");
        int L = _off.Length, r = settings.Rank, rows = _rows;
        var tensors = new List<ParameterTensor>();
        var offsets = new int[L][];
        var u = new T[]?[L][];
        long offset = 0;
        int maxIn = 0, maxOut = 0;
        var names = LlamaTensorSchema.Enumerate(Config).Where(sp => sp.Layer >= 0).ToDictionary(sp => (sp.Role, sp.Layer), sp => sp.Name);
        for (int l = 0; l < L; l++)
        {
            offsets[l] = [-1, -1, -1, -1, -1, -1, -1];
            u[l] = new T[]?[7];
            foreach (var role in settings.Roles)
            {
                var (inDim, outDim) = ProjectionShape(role);
                maxIn = Math.Max(maxIn, inDim);
                maxOut = Math.Max(maxOut, outDim);
                string stem = names[(role, l)][..^".weight".Length];
                if (offset + (long)r * (inDim + outDim) > Array.MaxLength) throw new ArgumentException("the adapters have more parameters than one flat buffer can hold");
                offsets[l][Slot(role)] = (int)offset;
                tensors.Add(new ParameterTensor(stem + ".lora_a", (int)offset, [r, inDim]));
                offset += (long)r * inDim;
                tensors.Add(new ParameterTensor(stem + ".lora_b", (int)offset, [outDim, r]));
                offset += (long)outDim * r;
                u[l][Slot(role)] = new T[(long)rows * r];
            }
        }
        bool dropout = settings.Dropout > 0;
        _lora = new LoraState
        {
            Settings = settings, Parameters = new T[offset], Gradients = new T[offset], Tensors = tensors, Offsets = offsets, U = u,
            Su = new T[(long)rows * r], Du = new T[(long)rows * r], Tmp = new T[(long)rows * maxOut],
            XDrop = dropout ? new T[(long)rows * maxIn] : [], DxDrop = dropout ? new T[(long)rows * maxIn] : [],
            Scale = T.CreateChecked(settings.Scaling),
        };
        TrainBase = false;
        InitializeLora(seed);
    }

    /// <summary>Re-initialises the adapters: A Kaiming-uniform (PEFT's default), B zero.</summary>
    public void InitializeLora(int seed)
    {
        var lora = _lora ?? throw new InvalidOperationException("no LoRA adapters are attached");
        var rng = new Random(seed);
        foreach (var t in lora.Tensors)
        {
            var p = lora.Parameters.AsSpan(t.Offset, t.Length);
            if (t.Name.EndsWith(".lora_b", StringComparison.Ordinal)) { p.Clear(); continue; }
            double bound = 1 / Math.Sqrt(t.Shape[1]);
            for (int i = 0; i < p.Length; i++) p[i] = T.CreateChecked((rng.NextDouble() * 2 - 1) * bound);
        }
    }

    /// <summary>The A [r, in] and B [out, r] of the adapter on (<paramref name="layer"/>, <paramref name="role"/>), or null when not adapted.</summary>
    public (Memory<T> A, Memory<T> B)? LoraMatrices(int layer, TensorRole role)
    {
        if (_lora is null || !_lora.Settings.Adapts(role)) return null;
        int off = _lora.Offsets[layer][Slot(role)];
        var (inDim, outDim) = ProjectionShape(role);
        int r = _lora.Settings.Rank;
        return (_lora.Parameters.AsMemory(off, r * inDim), _lora.Parameters.AsMemory(off + r * inDim, outDim * r));
    }

    /// <summary>A tensor's values as the model uses them: W + s·B·A for an adapted projection, else the parameter itself.</summary>
    private ReadOnlySpan<T> MergedTensor(TensorSpec spec)
    {
        var p = Parameters.AsSpan(_offsets[(spec.Role, spec.Layer)], (int)spec.ElementCount);
        if (spec.Layer < 0 || LoraMatrices(spec.Layer, spec.Role) is not { } m) return p;
        var (inDim, outDim) = ProjectionShape(spec.Role);
        int r = _lora!.Settings.Rank;
        var merged = p.ToArray();
        var sb = new T[outDim * r];
        TensorPrimitives.Multiply(m.B.Span, _lora.Scale, sb);
        // W'[out, in] += (s·B)[out, r] · A[r, in]
        MatrixProducts.AccumulateInputGradient<T>(merged, sb, m.A.Span, outDim, inDim, r);
        return merged;
    }

    /// <summary>y += s·(x̃·Aᵀ)·Bᵀ for the adapter on (l, role); saves u = x̃·Aᵀ.</summary>
    private void LoraForward(int l, TensorRole role, Span<T> y, ReadOnlySpan<T> x)
    {
        var lora = _lora!;
        int slot = Slot(role), off = lora.Offsets[l][slot];
        if (off < 0) return;
        var (inDim, outDim) = ProjectionShape(role);
        int r = lora.Settings.Rank, rows = _rows;
        var A = lora.Parameters.AsSpan(off, r * inDim);
        var B = lora.Parameters.AsSpan(off + r * inDim, outDim * r);
        var xin = DropoutActive ? Dropped(l, slot, x[..(rows * inDim)]) : x[..(rows * inDim)];
        var u = lora.U[l][slot]!;
        MatrixProducts.Forward<T>(u, xin, A, rows, inDim, r);
        var su = lora.Su.AsSpan(0, rows * r);
        TensorPrimitives.Multiply(u, lora.Scale, su);
        var tmp = lora.Tmp.AsSpan(0, rows * outDim);
        MatrixProducts.Forward<T>(tmp, su, B, rows, r, outDim);
        TensorPrimitives.Add(y[..(rows * outDim)], tmp, y[..(rows * outDim)]);
    }

    /// <summary>Accumulates dA, dB of the adapter on (l, role) and adds its input gradient to <paramref name="dx"/>.</summary>
    private void LoraBackward(int l, TensorRole role, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, Span<T> dx)
    {
        var lora = _lora!;
        int slot = Slot(role), off = lora.Offsets[l][slot];
        if (off < 0) return;
        var (inDim, outDim) = ProjectionShape(role);
        int r = lora.Settings.Rank, rows = _rows;
        var A = lora.Parameters.AsSpan(off, r * inDim);
        var B = lora.Parameters.AsSpan(off + r * inDim, outDim * r);
        var dA = lora.Gradients.AsSpan(off, r * inDim);
        var dB = lora.Gradients.AsSpan(off + r * inDim, outDim * r);
        dy = dy[..(rows * outDim)];
        // dB[out, r] += dYᵀ·(s·u)
        var su = lora.Su.AsSpan(0, rows * r);
        TensorPrimitives.Multiply(lora.U[l][slot]!, lora.Scale, su);
        MatrixProducts.AccumulateWeightGradient<T>(dB, dy, su, rows, r, outDim);
        // du[rows, r] = s·dY·B
        var du = lora.Du.AsSpan(0, rows * r);
        du.Clear();
        MatrixProducts.AccumulateInputGradient<T>(du, dy, B, rows, r, outDim);
        TensorPrimitives.Multiply(du, lora.Scale, du);
        // dA[r, in] += duᵀ·x̃; dX += (du·A) ⊙ mask/(1 − p)
        if (!DropoutActive)
        {
            MatrixProducts.AccumulateWeightGradient<T>(dA, du, x[..(rows * inDim)], rows, inDim, r);
            MatrixProducts.AccumulateInputGradient<T>(dx[..(rows * inDim)], du, A, rows, inDim, r);
            return;
        }
        var xd = Dropped(l, slot, x[..(rows * inDim)]);
        MatrixProducts.AccumulateWeightGradient<T>(dA, du, xd, rows, inDim, r);
        var dxd = lora.DxDrop.AsSpan(0, rows * inDim);
        dxd.Clear();
        MatrixProducts.AccumulateInputGradient<T>(dxd, du, A, rows, inDim, r);
        T keepScale = T.One / (T.One - T.CreateChecked(lora.Settings.Dropout));
        ulong key = DropoutKey(l, slot);
        double p = lora.Settings.Dropout;
        for (int i = 0; i < dxd.Length; i++)
            if (Keep(key, i, p)) dx[i] += dxd[i] * keepScale;
    }

    private bool DropoutActive => DropoutEnabled && _lora is { Settings.Dropout: > 0 };

    /// <summary>x ⊙ mask/(1 − p) into the dropout scratch, the mask a pure function of (seed, layer, slot, index).</summary>
    private ReadOnlySpan<T> Dropped(int l, int slot, ReadOnlySpan<T> x)
    {
        var lora = _lora!;
        var xd = lora.XDrop.AsSpan(0, x.Length);
        T keepScale = T.One / (T.One - T.CreateChecked(lora.Settings.Dropout));
        ulong key = DropoutKey(l, slot);
        double p = lora.Settings.Dropout;
        for (int i = 0; i < x.Length; i++) xd[i] = Keep(key, i, p) ? x[i] * keepScale : T.Zero;
        return xd;
    }

    private ulong DropoutKey(int l, int slot) => Mix(DropoutSeed ^ Mix(0x9E3779B97F4A7C15UL * (ulong)(l * 8 + slot + 1)));

    private static bool Keep(ulong key, int index, double p) => (Mix(key + 0xD1B54A32D192ED03UL * (ulong)(index + 1)) >> 11) * (1.0 / (1UL << 53)) >= p;

    /// <summary>SplitMix64's finaliser.</summary>
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
