using Elongate.Formats;

namespace Elongate.Training;

/// <summary>The adapters a training model learned, as a PEFT adapter (Formats knows the file, Training the model).</summary>
public static class LoraAdapterExport
{
    /// <summary>The adapters of <paramref name="model"/> in PEFT's layout.</summary>
    /// <param name="model">A training model with LoRA adapters attached.</param>
    /// <param name="baseModel">Recorded as base_model_name_or_path.</param>
    /// <exception cref="ArgumentException">The model has no adapters.</exception>
    public static LoraAdapter ToLoraAdapter(this LlamaTrainingModel<float> model, string? baseModel = null)
    {
        var settings = model.Lora ?? throw new ArgumentException("the training model has no LoRA adapters", nameof(model));
        return LoraAdapter.FromMatrices(model.Config, settings, (l, role) =>
        {
            var (a, b) = model.LoraMatrices(l, role)!.Value;
            return (a.ToArray(), b.ToArray());
        }, baseModel, "<training model>");
    }
}
