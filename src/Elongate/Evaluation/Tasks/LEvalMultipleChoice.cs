using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Turns L-Eval's closed-ended exam questions (tpo, coursera, quality-style: the options inline in the instruction as
/// "question\nA. text\nB. text\n…", the reference the correct letter or letters) into <see cref="MultipleChoiceItem"/>s,
/// so a base model can be scored by log-likelihood instead of by generating a letter. The document is the item's
/// <see cref="MultipleChoiceItem.Document"/> (cut in the middle if it does not fit); the context after it is
/// "\n\n{question and options}\nAnswer:" with the letters as choices (<see cref="LEvalChoiceStyle.Letters"/>, as
/// lm-evaluation-harness's MMLU prompt), or "\n\n{question}\nAnswer:" with the option texts as choices
/// (<see cref="LEvalChoiceStyle.OptionTexts"/>, as its ARC prompt).
/// </summary>
public static partial class LEvalMultipleChoice
{
    /// <summary>
    /// Splits an instruction into the question and its options: the last run of lines starting "A." (or "A)"),
    /// "B.", … in order; a line that starts no option continues the one before. Null when there are fewer than two options.
    /// </summary>
    public static (string Question, IReadOnlyList<string> Options)? SplitOptions(string instruction)
    {
        var lines = instruction.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n');
        // The last "A." line that is followed by a "B." line starts the options; an earlier "A." belongs to the question.
        int start = -1;
        for (int i = lines.Length - 1; i >= 0 && start < 0; i--)
            if (OptionLetter(lines[i]) == 'A' && lines.Skip(i + 1).Any(l => OptionLetter(l) == 'B')) start = i;
        if (start < 0) return null;

        var options = new List<string>();
        for (int i = start; i < lines.Length; i++)
        {
            var m = OptionLine().Match(lines[i]);
            if (m.Success && m.Groups[1].Value[0] == (char)('A' + options.Count))
                options.Add(m.Groups[2].Value.Trim());
            else if (lines[i].Trim().Length > 0)
                options[^1] = (options[^1] + " " + lines[i].Trim()).Trim();
        }
        var question = string.Join("\n", lines.Take(start)).Trim();
        return options.Count >= 2 ? (question, options) : null;
    }

    /// <summary>
    /// The 0-based option indices of a reference such as "C", "AC" or "A, C" (spaces, commas and periods ignored,
    /// case ignored), or null when a character is not an option letter among <paramref name="optionCount"/> or a letter repeats.
    /// </summary>
    public static IReadOnlyList<int>? ParseReference(string reference, int optionCount)
    {
        var gold = new List<int>();
        foreach (var ch in reference)
        {
            if (char.IsWhiteSpace(ch) || ch is ',' or '.') continue;
            int index = char.ToUpperInvariant(ch) - 'A';
            if (index < 0 || index >= optionCount || gold.Contains(index)) return null;
            gold.Add(index);
        }
        return gold.Count == 0 ? null : gold.Order().ToArray();
    }

    /// <summary>
    /// The item for one question, or null with the <paramref name="problem"/> when its options or answer cannot be read
    /// or <paramref name="multiAnswer"/> leaves it out.
    /// </summary>
    public static MultipleChoiceItem? TryCreate(string id, string document, string instruction, string reference,
        LEvalChoiceStyle style, LEvalMultiAnswer multiAnswer, out string? problem)
    {
        problem = null;
        if (SplitOptions(instruction) is not { } split)
        {
            problem = "no lettered options (\"A. …\", \"B. …\") in the instruction";
            return null;
        }
        if (ParseReference(reference, split.Options.Count) is not { } gold)
        {
            problem = $"reference \"{reference}\" is not a set of the option letters A–{MultipleChoiceMetrics.Letter(split.Options.Count - 1)}";
            return null;
        }
        if (gold.Count > 1 && multiAnswer == LEvalMultiAnswer.Skip)
        {
            problem = $"{gold.Count} correct letters (\"{reference}\"), left out by the multi-answer policy";
            return null;
        }
        return style switch
        {
            LEvalChoiceStyle.Letters => new MultipleChoiceItem(id,
                "\n\n" + split.Question + "\n" + string.Join("\n", split.Options.Select((o, i) => MultipleChoiceMetrics.Letter(i) + ". " + o)) + "\nAnswer:",
                Enumerable.Range(0, split.Options.Count).Select(MultipleChoiceMetrics.Letter).ToArray(), gold) { Document = document },
            LEvalChoiceStyle.OptionTexts => new MultipleChoiceItem(id, "\n\n" + split.Question + "\nAnswer:", split.Options, gold) { Document = document },
            _ => throw new ArgumentOutOfRangeException(nameof(style), style, null),
        };
    }

    /// <summary>
    /// Reads an L-Eval JSON Lines file (<c>input</c>, <c>instructions</c>, <c>outputs</c>) into items with ids
    /// "line.question". Questions whose options or answer cannot be read are skipped and listed, not fatal; a line
    /// that is not JSON or lacks the fields is an error naming the line.
    /// </summary>
    public static LEvalMultipleChoiceFile Read(string path, LEvalChoiceStyle style = LEvalChoiceStyle.Letters,
        LEvalMultiAnswer multiAnswer = LEvalMultiAnswer.AnyGold)
    {
        var items = new List<MultipleChoiceItem>();
        var skipped = new List<LEvalSkippedQuestion>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonDocument doc;
            try { doc = JsonDocument.Parse(line); }
            catch (JsonException e) { throw new MultipleChoiceDataException(path, lineNumber, $"not valid JSON: {e.Message}", inner: e); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new MultipleChoiceDataException(path, lineNumber, "expected a JSON object");
                var document = StringField(root, "input", path, lineNumber);
                var instructions = StringArray(root, "instructions", path, lineNumber);
                var outputs = StringArray(root, "outputs", path, lineNumber);
                if (instructions.Count != outputs.Count)
                    throw new MultipleChoiceDataException(path, lineNumber, $"{instructions.Count} instructions but {outputs.Count} outputs", "outputs");
                for (int q = 0; q < instructions.Count; q++)
                {
                    var id = string.Create(CultureInfo.InvariantCulture, $"{lineNumber}.{q + 1}");
                    var item = TryCreate(id, document, instructions[q], outputs[q], style, multiAnswer, out var problem);
                    if (item is null) skipped.Add(new LEvalSkippedQuestion(id, problem!));
                    else items.Add(item);
                }
            }
        }
        return new LEvalMultipleChoiceFile(path, items, skipped);
    }

    private static char? OptionLetter(string line)
    {
        var m = OptionLine().Match(line);
        return m.Success ? m.Groups[1].Value[0] : null;
    }

    private static string StringField(JsonElement root, string key, string path, int line) =>
        root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
            : throw new MultipleChoiceDataException(path, line, $"missing string \"{key}\"", key);

    private static IReadOnlyList<string> StringArray(JsonElement root, string key, string path, int line)
    {
        if (!root.TryGetProperty(key, out var v) || v.ValueKind != JsonValueKind.Array)
            throw new MultipleChoiceDataException(path, line, $"missing array \"{key}\"", key);
        return v.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()!
            : throw new MultipleChoiceDataException(path, line, $"\"{key}\" must hold only strings", key)).ToArray();
    }

    /// <summary>"A. text", "B) text" (leading spaces allowed).</summary>
    [GeneratedRegex(@"^\s*([A-Z])[.)]\s?(.*)$")]
    private static partial Regex OptionLine();
}
