using System.CommandLine;
using System.Globalization;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Cli.Commands;

/// <summary>`--lora ADAPTER` for the commands that run a model: a PEFT adapter folder merged into the model at load.</summary>
internal static class LoraOption
{
    public static Option<string?> Create() => new("--lora")
    {
        Description = "LoRA adapter to apply: a PEFT folder (adapter_config.json + adapter_model.safetensors) or an `elongate finetune` run folder (its adapter/). "
            + "Merged into fp32 copies of the adapted projections at load",
    };

    /// <summary>The adapter folder <paramref name="path"/> stands for: itself, or a run folder's adapter/.</summary>
    public static string Resolve(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(Path.Combine(full, LoraAdapter.ConfigFileName)) && File.Exists(Path.Combine(full, FineTuner.AdapterFolderName, LoraAdapter.ConfigFileName)))
            return Path.Combine(full, FineTuner.AdapterFolderName);
        return full;
    }

    /// <summary><paramref name="model"/> with the adapter at <paramref name="path"/> merged (or unchanged when null); one line on stderr.</summary>
    public static LlamaModel Apply(string? path, LlamaModel model, TextWriter stderr)
    {
        if (path is null) return model;
        var adapter = LoraAdapter.Load(Resolve(path));
        var merged = adapter.ApplyTo(model);
        stderr.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"lora: {adapter.Source}: r {adapter.Settings.Rank}, alpha {adapter.Settings.Alpha:G}, {adapter.HfMatrices.Count} adapted projections ({adapter.Settings.TargetList}) merged"));
        return merged;
    }
}
