using System.Text.Json;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// What the answers in a results file depend on besides their key (run.json): the model, its context, truncation,
/// chat, seed and the prompt templates. A run resuming into a folder whose settings differ is refused, because its
/// summary would mix answers to different prompts or models. Lengths, shots, tasks and limits may change freely:
/// they are part of each result's key.
/// </summary>
/// <param name="Model">The model's name.</param>
/// <param name="ContextLength">Its context.</param>
/// <param name="Truncation">middle or left.</param>
/// <param name="Chat">Chat template used.</param>
/// <param name="Seed">Few-shot seed.</param>
/// <param name="Prompts">Fingerprint of the templates (<see cref="TaskPrompts.Fingerprint"/>).</param>
/// <param name="Mode">generate or loglikelihood (null in folders written before the mode existed: generate).</param>
/// <param name="ChoiceStyle">letters or options: the choices of L-Eval exam questions scored by log-likelihood.</param>
public sealed record TaskRunSettings(string Model, int ContextLength, string Truncation, bool Chat, int Seed, string Prompts,
    string? Mode = "generate", string? ChoiceStyle = "letters")
{
    /// <summary>
    /// Writes the settings to <paramref name="path"/> when absent or when no results depend on them yet
    /// (<paramref name="hasResults"/> false: a run stopped before its first answer), else checks they match the stored ones.
    /// </summary>
    /// <exception cref="ArgumentException">The folder holds results of a run with other settings.</exception>
    /// <exception cref="TaskDataException">run.json is not a settings file.</exception>
    public void WriteOrCheck(string path, bool hasResults)
    {
        if (!File.Exists(path) || !hasResults)
        {
            EvalJson.Write(path, this);
            return;
        }
        TaskRunSettings? stored;
        try
        {
            stored = JsonSerializer.Deserialize<TaskRunSettings>(File.ReadAllText(path), EvalJson.Options);
        }
        catch (JsonException e)
        {
            throw new TaskDataException(path, $"not a run settings file: {e.Message}");
        }
        if (stored is null) throw new TaskDataException(path, "not a run settings file");
        var differences = new List<string>();
        if (stored.Model != Model) differences.Add($"model {stored.Model} → {Model}");
        if (stored.ContextLength != ContextLength) differences.Add($"context {stored.ContextLength} → {ContextLength}");
        if (stored.Truncation != Truncation) differences.Add($"--truncate {stored.Truncation} → {Truncation}");
        if (stored.Chat != Chat) differences.Add($"--chat {stored.Chat} → {Chat}");
        if (stored.Seed != Seed) differences.Add($"--seed {stored.Seed} → {Seed}");
        if (stored.Prompts != Prompts) differences.Add($"prompt templates {stored.Prompts} → {Prompts}");
        if ((stored.Mode ?? "generate") != (Mode ?? "generate")) differences.Add($"--mode {stored.Mode ?? "generate"} → {Mode}");
        if ((stored.ChoiceStyle ?? "letters") != (ChoiceStyle ?? "letters")) differences.Add($"--choice-style {stored.ChoiceStyle ?? "letters"} → {ChoiceStyle}");
        if (differences.Count > 0)
            throw new ArgumentException(
                $"{Path.GetDirectoryName(path)} holds results of a run with other settings ({string.Join(", ", differences)}); give another --out, or delete that folder to start afresh");
    }
}
