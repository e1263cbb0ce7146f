using System.Text.Json.Serialization;

namespace Elongate.Model;

/// <summary>The linear layers of a Llama block a LoRA adapter can be attached to (PEFT's target_modules).</summary>
[Flags]
public enum LoraTargets
{
    None = 0,
    /// <summary>self_attn.q_proj (Wq).</summary>
    Q = 1,
    /// <summary>self_attn.k_proj (Wk).</summary>
    K = 2,
    /// <summary>self_attn.v_proj (Wv).</summary>
    V = 4,
    /// <summary>self_attn.o_proj (Wo).</summary>
    O = 8,
    /// <summary>mlp.gate_proj (WGate).</summary>
    Gate = 16,
    /// <summary>mlp.up_proj (WUp).</summary>
    Up = 32,
    /// <summary>mlp.down_proj (WDown).</summary>
    Down = 64,
    /// <summary>Every linear layer of the block: QLoRA's finding (Dettmers et al. 2023) is that adapting all of them is what matches full fine-tuning.</summary>
    All = Q | K | V | O | Gate | Up | Down,
}

/// <summary>
/// A LoRA adapter's shape (Hu et al. 2021, as Hugging Face PEFT implements it): every targeted projection
/// y = x·Wᵀ becomes y = x·Wᵀ + s·(dropout(x)·Aᵀ)·Bᵀ with A [r, in], B [out, r] and s = alpha/r
/// (alpha/√r with rsLoRA). Only A and B train; B starts at zero, so training starts from the base model exactly.
/// </summary>
/// <param name="Rank">r, the adapter's inner dimension.</param>
/// <param name="Alpha">lora_alpha; the scale is alpha/r, so alpha = 2r doubles the adapter's output.</param>
/// <param name="Targets">The projections adapted.</param>
/// <param name="Dropout">Dropout on the adapter's input during training (PEFT's lora_dropout); not used at inference.</param>
/// <param name="UseRsLora">Scale by alpha/√r (rank-stabilized LoRA) instead of alpha/r.</param>
public sealed record LoraSettings(int Rank, float Alpha, LoraTargets Targets = LoraTargets.All, float Dropout = 0f, bool UseRsLora = false)
{
    /// <summary>The projections in PEFT's order, with their Hugging Face module names and the roles they adapt.</summary>
    public static IReadOnlyList<(LoraTargets Target, TensorRole Role, string Module, string Short)> Modules { get; } =
    [
        (LoraTargets.Q, TensorRole.Wq, "q_proj", "q"), (LoraTargets.K, TensorRole.Wk, "k_proj", "k"),
        (LoraTargets.V, TensorRole.Wv, "v_proj", "v"), (LoraTargets.O, TensorRole.Wo, "o_proj", "o"),
        (LoraTargets.Gate, TensorRole.WGate, "gate_proj", "gate"), (LoraTargets.Up, TensorRole.WUp, "up_proj", "up"),
        (LoraTargets.Down, TensorRole.WDown, "down_proj", "down"),
    ];

    /// <summary>s, the factor on the adapter's output: alpha/r, or alpha/√r with rsLoRA (computed in double, as PEFT does in Python).</summary>
    [JsonIgnore]
    public double Scaling => UseRsLora ? Alpha / Math.Sqrt(Rank) : (double)Alpha / Rank;

    /// <summary>The adapted roles in PEFT's order (q, k, v, o, gate, up, down).</summary>
    [JsonIgnore]
    public IEnumerable<TensorRole> Roles => Modules.Where(m => Targets.HasFlag(m.Target)).Select(m => m.Role);

    /// <summary>Hugging Face module names of the targets, in PEFT's order: ["q_proj", "k_proj", …].</summary>
    [JsonIgnore]
    public IReadOnlyList<string> ModuleNames => Modules.Where(m => Targets.HasFlag(m.Target)).Select(m => m.Module).ToArray();

    /// <summary>Whether <paramref name="role"/> carries an adapter.</summary>
    public bool Adapts(TensorRole role) => Modules.Any(m => m.Role == role && Targets.HasFlag(m.Target));

    /// <summary>
    /// Parses a target list: short names (q,k,v,o,gate,up,down), PEFT module names (q_proj, …) or "all", comma separated.
    /// </summary>
    /// <exception cref="ArgumentException">An unknown or repeated name, or an empty list.</exception>
    public static LoraTargets ParseTargets(string text)
    {
        var targets = LoraTargets.None;
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = raw.ToLowerInvariant();
            if (name == "all") { targets |= LoraTargets.All; continue; }
            var m = Modules.FirstOrDefault(x => x.Short == name || x.Module == name);
            if (m.Module is null)
                throw new ArgumentException($"--lora-targets: unknown target '{raw}' (use {string.Join(",", Modules.Select(x => x.Short))} or all)");
            if (targets.HasFlag(m.Target)) throw new ArgumentException($"--lora-targets names '{raw}' twice");
            targets |= m.Target;
        }
        if (targets == LoraTargets.None) throw new ArgumentException("--lora-targets is empty");
        return targets;
    }

    /// <summary>The role PEFT's module name stands for, or null for a name that is not a Llama projection.</summary>
    public static TensorRole? RoleOfModule(string module) => Modules.FirstOrDefault(m => m.Module == module) is { Module: not null } m ? m.Role : null;

    /// <summary>The PEFT module name of a projection role.</summary>
    public static string ModuleOf(TensorRole role) => Modules.First(m => m.Role == role).Module;

    /// <summary>Checks the values; throws <see cref="ArgumentException"/> naming the option.</summary>
    public void Validate()
    {
        if (Rank < 1) throw new ArgumentException($"--lora-rank must be positive, got {Rank}");
        if (!(Alpha > 0) || float.IsInfinity(Alpha)) throw new ArgumentException($"--lora-alpha must be positive, got {Alpha}");
        if (!(Dropout >= 0 && Dropout < 1)) throw new ArgumentException($"--lora-dropout must be in [0, 1), got {Dropout}");
        if (Targets == LoraTargets.None || (Targets & ~LoraTargets.All) != 0) throw new ArgumentException($"--lora-targets must name at least one projection, got {Targets}");
    }

    /// <summary>The short form of the targets: "q,k,v,o,gate,up,down".</summary>
    [JsonIgnore]
    public string TargetList => string.Join(",", Modules.Where(m => Targets.HasFlag(m.Target)).Select(m => m.Short));

    public override string ToString() => $"LoRA r={Rank} alpha={Alpha:G} ({TargetList}{(Dropout > 0 ? $", dropout {Dropout:G}" : "")}{(UseRsLora ? ", rsLoRA" : "")})";
}
