using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// LoRA against full fine-tuning. The exactness argument: with W' = W + s·B·A the adapted model computes the full
/// model with weights W', and by the chain rule dL/dB = s·G·Aᵀ, dL/dA = s·Bᵀ·G with G = dL/dW' of that full model.
/// With rank r ≥ in, A = [I; 0]/s (held fixed) and B = [Δ, 0], the merged weight is W + Δ and dL/dB = [G, 0], so an
/// AdamW step on B is exactly full fine-tuning's step on W + Δ (element-wise optimizer, same gradients). Tests:
/// the merged forward equals the adapted one, the chain rule holds for every adapter (double, 1e-10; measured 5e-15), and three AdamW
/// steps of both runs agree (float, see the tolerance there).
/// </summary>
public class LoraEquivalenceTests
{
    private static LlamaConfig Tiny() => new()
    {
        HiddenSize = 8, IntermediateSize = 12, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = 11, MaxPositionEmbeddings = 16,
    };

    private static readonly int[] X = [1, 5, 2, 7, 3, 4, 9, 8, 6, 2, 10, 0], Y = [5, 3, 7, 3, -100, 1, 8, 6, 2, 4, -100, 9];
    private static readonly int[] Seg = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0];

    /// <summary>Merges s·B·A into a copy of the base, independently of the library (plain loops).</summary>
    private static LlamaTrainingModel<double> MergedFull(LlamaTrainingModel<double> lora)
    {
        var full = new LlamaTrainingModel<double>(lora.Config, lora.BatchSize, lora.SeqLen) { AttentionTileSize = lora.AttentionTileSize };
        lora.Parameters.CopyTo(full.Parameters, 0);
        var s = lora.Lora!;
        foreach (var t in full.Tensors)
        {
            var (role, layer) = RoleOf(t.Name);
            if (layer < 0 || !s.Adapts(role)) continue;
            var (a, b) = lora.LoraMatrices(layer, role)!.Value;
            int outDim = t.Shape[0], inDim = t.Shape[1], r = s.Rank;
            for (int o = 0; o < outDim; o++)
                for (int i = 0; i < inDim; i++)
                {
                    double d = 0;
                    for (int k = 0; k < r; k++) d += b.Span[o * r + k] * a.Span[k * inDim + i];
                    full.Parameters[t.Offset + o * inDim + i] += s.Scaling * d;
                }
        }
        return full;
    }

    private static (TensorRole Role, int Layer) RoleOf(string name)
    {
        var spec = LlamaTensorSchema.Enumerate(Tiny()).First(sp => sp.Name == name);
        return (spec.Role, spec.Layer);
    }

    [Fact]
    public void Adapted_model_equals_the_merged_full_model_and_its_gradients_follow_the_chain_rule()
    {
        var lora = new LlamaTrainingModel<double>(Tiny(), 2, 6) { AttentionTileSize = 2 };
        lora.InitializeRandom(5, std: 0.5);
        lora.AddLora(new LoraSettings(3, 5, LoraTargets.All), seed: 3);
        var rng = new Random(6);
        for (int i = 0; i < lora.LoraParameters.Length; i++) lora.LoraParameters[i] = rng.NextDouble() - 0.5;
        var full = MergedFull(lora);

        double lossLora = lora.Forward(X, Y, Seg);
        lora.Backward();
        double lossFull = full.Forward(X, Y, Seg);
        full.Backward();
        Assert.Equal(lossFull, lossLora, 1e-12);
        for (int i = 0; i < full.Logits.Length; i++) Assert.Equal(full.Logits[i], lora.Logits[i], 1e-12);

        var s = lora.Lora!;
        double worst = 0;
        foreach (var t in full.Tensors)
        {
            var (role, layer) = RoleOf(t.Name);
            if (layer < 0 || !s.Adapts(role)) continue;
            var (a, b) = lora.LoraMatrices(layer, role)!.Value;
            var grads = lora.LoraTensors.Where(x => x.Name.StartsWith(t.Name[..^".weight".Length] + ".", StringComparison.Ordinal)).ToArray();
            var dA = lora.LoraGradients.AsSpan(grads[0].Offset, grads[0].Length).ToArray();
            var dB = lora.LoraGradients.AsSpan(grads[1].Offset, grads[1].Length).ToArray();
            int outDim = t.Shape[0], inDim = t.Shape[1], r = s.Rank;
            var G = full.Gradients.AsSpan(t.Offset, t.Length).ToArray();
            double scale = G.Max(Math.Abs);
            Assert.True(scale > 1e-4, $"{t.Name}: no gradient to compare");
            for (int o = 0; o < outDim; o++)
                for (int k = 0; k < r; k++)
                {
                    double want = 0;
                    for (int i = 0; i < inDim; i++) want += s.Scaling * G[o * inDim + i] * a.Span[k * inDim + i];
                    worst = Math.Max(worst, Math.Abs(want - dB[o * r + k]) / scale);
                }
            for (int k = 0; k < r; k++)
                for (int i = 0; i < inDim; i++)
                {
                    double want = 0;
                    for (int o = 0; o < outDim; o++) want += s.Scaling * b.Span[o * r + k] * G[o * inDim + i];
                    worst = Math.Max(worst, Math.Abs(want - dA[k * inDim + i]) / scale);
                }
        }
        Assert.True(worst < 1e-10, $"chain rule off by {worst:E2}");
    }

    /// <summary>
    /// Rank = full (r = 12 ≥ every projection's input), s = alpha/r = 2, A = [I; 0]/2 fixed, B = [Δ, 0]; full
    /// fine-tuning starts at W + Δ. Both take three AdamW steps (weight decay 0, since full fine-tuning would decay W
    /// and LoRA B; clipping on) over the same batches, full fine-tuning updating only the seven projections of each layer.
    /// The merged LoRA weights must follow full fine-tuning's: the two runs compute the same function with fp32
    /// products grouped differently (x·Wᵀ vs x·W₀ᵀ + x·Δᵀ), so gradients differ by ~1e-7 relative and Adam's updates by
    /// as much: ≤ 1e-4 of the largest update after three steps (measured 1.8e-7 against 3.0e-2, i.e. 6e-6).
    /// </summary>
    [Fact]
    public void Full_rank_lora_with_B_from_a_delta_reproduces_full_fine_tuning_steps()
    {
        var config = Tiny();
        const int r = 12;
        const float alpha = 24;
        var lora = new LlamaTrainingModel<float>(config, 2, 6) { AttentionTileSize = 2 };
        lora.InitializeRandom(11, std: 0.3);
        lora.AddLora(new LoraSettings(r, alpha, LoraTargets.All), seed: 1);
        var full = new LlamaTrainingModel<float>(config, 2, 6) { AttentionTileSize = 2 };
        lora.Parameters.CopyTo(full.Parameters, 0);
        var rng = new Random(12);
        foreach (var t in full.Tensors)
        {
            var (role, layer) = RoleOf(t.Name);
            if (layer < 0 || !lora.Lora!.Adapts(role)) continue;
            var (a, b) = lora.LoraMatrices(layer, role)!.Value;
            int outDim = t.Shape[0], inDim = t.Shape[1];
            a.Span.Clear();
            for (int i = 0; i < inDim; i++) a.Span[i * inDim + i] = 0.5f; // A = [I; 0]/s
            b.Span.Clear();
            for (int o = 0; o < outDim; o++)
                for (int i = 0; i < inDim; i++)
                {
                    float delta = (float)((rng.NextDouble() - 0.5) * 0.2);
                    b.Span[o * r + i] = delta;
                    full.Parameters[t.Offset + o * inDim + i] += delta;
                }
        }
        var projections = full.Tensors.Where(t => t.IsMatrix && RoleOf(t.Name).Layer >= 0).ToArray();
        var onlyB = lora.LoraTensors.Where(t => t.Name.EndsWith(".lora_b", StringComparison.Ordinal)).ToArray();
        var optFull = new AdamW(projections, full.Parameters.Length) { WeightDecay = 0 };
        var optLora = new AdamW(onlyB, lora.LoraParameters.Length) { WeightDecay = 0 };
        var start = full.Parameters.ToArray();
        var batches = new[] { (X, Y), (Y.Select(v => v < 0 ? 3 : v).ToArray(), X), (X.Reverse().ToArray(), Y) };
        foreach (var (x, y) in batches)
        {
            full.ZeroGrad();
            float lf = full.Forward(x, y, Seg);
            full.Backward();
            lora.ZeroGrad();
            float ll = lora.Forward(x, y, Seg);
            lora.Backward();
            Assert.Equal(lf, ll, 1e-5f);
            optFull.Step(full.Parameters, full.Gradients, 1e-2f);
            optLora.Step(lora.LoraParameters, lora.LoraGradients, 1e-2f);
        }
        var merged = lora.ToModel();
        double worst = 0, largest = 0;
        foreach (var t in projections)
        {
            var spec = LlamaTensorSchema.Enumerate(config).First(sp => sp.Name == t.Name);
            var m = merged.Weights[spec]!.Floats;
            for (int i = 0; i < t.Length; i++)
            {
                largest = Math.Max(largest, Math.Abs(full.Parameters[t.Offset + i] - start[t.Offset + i]));
                worst = Math.Max(worst, Math.Abs(full.Parameters[t.Offset + i] - m[i]));
            }
        }
        Assert.True(largest > 1e-3, "the steps moved nothing");
        Assert.True(worst <= 1e-4 * largest, $"merged LoRA differs from full fine-tuning by {worst:E2} (largest update {largest:E2})");
        // The dead columns of B (beyond each projection's input width) received exactly zero gradient and stayed zero.
        foreach (var t in onlyB)
        {
            var b = lora.LoraParameters.AsSpan(t.Offset, t.Length);
            int outDim = t.Shape[0];
            int inDim = full.Tensors.First(x => x.Name == t.Name.Replace(".lora_b", ".weight", StringComparison.Ordinal)).Shape[1];
            for (int o = 0; o < outDim; o++)
                for (int k = inDim; k < r; k++) Assert.Equal(0f, b[o * r + k]);
        }
    }
}
