using Elongate.Data;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// Central differences in double (see <see cref="GradCheck"/>) of the fine-tuning loss: per-token weighted, with
/// ignored targets, packed segments and padding; and of the LoRA path (every target, dropout on, frozen base,
/// with and without gradient checkpointing).
/// </summary>
public class FineTuneGradientTests
{
    private static LlamaConfig Tiny(bool tied) => new()
    {
        HiddenSize = 8, IntermediateSize = 12, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = 11, MaxPositionEmbeddings = 16, TieWordEmbeddings = tied,
    };

    /// <summary>Two rows of 6: row 0 = examples 0 (4 tokens) and 1 (2 tokens); row 1 = example 0 (4 tokens) + 2 padding.</summary>
    private static (int[] X, int[] Y, int[] Seg, double[] W) Batch()
    {
        int[] x = [1, 5, 2, 7, 3, 4, 9, 8, 6, 2, 0, 0];
        int[] y = [5, -100, 7, 3, -100, 1, 8, 6, 2, -100, -100, -100];
        int[] seg = [0, 0, 0, 0, 1, 1, 0, 0, 0, 0, -1, -1];
        // Per-example weights as LossWeighting.Examples gives them: 3 examples with 3, 1 and 3 loss tokens.
        var seqs = new[] { new FineTuneSequence(x[..6], y[..6], seg[..6]), new FineTuneSequence(x[6..], y[6..], seg[6..]) };
        var w = FineTuner.StepWeights(seqs, LossWeighting.Examples).SelectMany(a => a.Select(v => (double)v)).ToArray();
        return (x, y, seg, w);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Weighted_masked_loss_gradient_matches_finite_differences(bool tied)
    {
        var model = new LlamaTrainingModel<double>(Tiny(tied), 2, 6) { AttentionTileSize = 2 };
        model.InitializeRandom(seed: 31, std: 0.5);
        var (x, y, seg, w) = Batch();
        Assert.Equal(1.0, w.Sum(), 6); // 3 examples × 1/3
        double Loss() => model.Forward(x, y, seg, w);
        GradCheck.CheckModel(model, Loss, $"weighted masked tied={tied}");
    }

    [Theory]
    [InlineData(false, 0.0)]
    [InlineData(false, 0.3)]
    [InlineData(true, 0.3)]
    public void Lora_gradient_matches_finite_differences(bool checkpointing, double dropout)
    {
        var model = new LlamaTrainingModel<double>(Tiny(false), 2, 6, checkpointing) { AttentionTileSize = 2 };
        model.InitializeRandom(seed: 41, std: 0.5);
        model.AddLora(new LoraSettings(3, 6, LoraTargets.All, (float)dropout), seed: 7);
        // B starts at zero (so dA would be zero); give it values so both A and B carry gradient. Kept within ±0.25:
        // with larger adapters the attention logits curve so much that the h² truncation error of central
        // differences at h = 1e-5 reaches 1e-6 (checked: the difference shrinks as h² to 2e-8 at h = 1e-6).
        var rng = new Random(43);
        foreach (var t in model.LoraTensors)
            for (int i = 0; i < t.Length; i++) model.LoraParameters[t.Offset + i] = (rng.NextDouble() - 0.5) / 2;
        model.DropoutEnabled = dropout > 0;
        model.DropoutSeed = 1234;
        var (x, y, seg, w) = Batch();
        double Loss() => model.Forward(x, y, seg, w);
        Loss();
        model.ZeroGrad();
        model.Backward();
        var analytic = (double[])model.LoraGradients.Clone();
        foreach (var t in model.LoraTensors)
        {
            var values = model.LoraParameters.AsSpan(t.Offset, t.Length).ToArray();
            double TensorLoss() { values.CopyTo(model.LoraParameters, t.Offset); return Loss(); }
            GradCheck.Check($"LoRA {t.Name} ckpt={checkpointing} p={dropout}", values, analytic.AsSpan(t.Offset, t.Length), TensorLoss);
            values.CopyTo(model.LoraParameters, t.Offset);
        }
        // The base is frozen: its gradient buffer was never needed.
        Assert.False(model.TrainBase);
    }

    [Fact]
    public void Dropout_masks_are_reproducible_and_change_with_the_seed()
    {
        var model = new LlamaTrainingModel<double>(Tiny(false), 1, 6);
        model.InitializeRandom(seed: 2, std: 0.5);
        model.AddLora(new LoraSettings(2, 4, LoraTargets.Q | LoraTargets.Down, 0.5f), seed: 1);
        var rng = new Random(4);
        for (int i = 0; i < model.LoraParameters.Length; i++) model.LoraParameters[i] = rng.NextDouble() - 0.5;
        int[] x = [1, 2, 3, 4, 5, 6], y = [2, 3, 4, 5, 6, 7];
        double off = model.Forward(x, y);
        model.DropoutEnabled = true;
        model.DropoutSeed = 1;
        double a = model.Forward(x, y), a2 = model.Forward(x, y);
        model.DropoutSeed = 2;
        double b = model.Forward(x, y);
        Assert.Equal(a, a2);
        Assert.NotEqual(a, b);
        Assert.NotEqual(off, a);
    }
}
