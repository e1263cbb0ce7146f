using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Reads multiple-choice JSON Lines in the shapes of <see cref="MultipleChoiceFormat"/> and builds each item's prompt
/// and choices as lm-evaluation-harness's task configs do (zero-shot):
/// <list type="bullet">
/// <item>generic: "Question: {question}\nAnswer:" (or a <c>query</c>/<c>ctx</c> as it stands), choices as given;</item>
/// <item>ARC (<c>arc_easy.yaml</c>): "Question: {question}\nAnswer:", choices <c>choices.text</c>, gold the index of <c>answerKey</c> in <c>choices.label</c>;</item>
/// <item>HellaSwag (<c>hellaswag/utils.py</c>): "{activity_label}: {ctx_a} {Ctx_b}" cleaned of WikiHow's bracket artefacts, the cleaned endings;</item>
/// <item>MMLU (<c>mmlu/default/_default_template_yaml</c>): "{question}\nA. …\nB. …\nAnswer:" after the subject's
///   description line, continued by the letters " A", " B", …;</item>
/// <item>PIQA (<c>piqa.yaml</c>): "Question: {goal}\nAnswer:", choices [sol1, sol2];</item>
/// <item>TruthfulQA (<c>truthfulqa_mc1.yaml</c>, <c>truthfulqa_mc2.yaml</c>): <see cref="TruthfulQaPrompt"/>, one MC1 and one MC2 item per line.</item>
/// </list>
/// Every choice is continued after a space (lm-evaluation-harness's default <c>target_delimiter</c>).
/// </summary>
public static partial class MultipleChoiceReader
{
    /// <summary>
    /// Reads <paramref name="path"/>. With <see cref="MultipleChoiceFormat.Auto"/> the shape is detected from the first
    /// non-blank line and every other line must have it (so a line missing a key is reported as missing that key,
    /// not as "another shape"). Blank lines are skipped; ids are the 1-based line numbers.
    /// </summary>
    /// <exception cref="MultipleChoiceDataException">A line is not JSON, of no known shape, or lacks what its shape needs.</exception>
    public static MultipleChoiceFile Read(string path, MultipleChoiceFormat format = MultipleChoiceFormat.Auto)
    {
        var items = new List<MultipleChoiceItem>();
        int lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            using var doc = ParseJson(line, path, lineNumber);
            if (format == MultipleChoiceFormat.Auto)
                format = Detect(doc.RootElement) ?? throw Unknown(doc.RootElement, path, lineNumber);
            items.AddRange(ParseLine(doc.RootElement, format, path, lineNumber));
        }
        if (format == MultipleChoiceFormat.Auto) throw new MultipleChoiceDataException(path, Math.Max(lineNumber, 1), "the file holds no items");
        return new MultipleChoiceFile(path, format, items);
    }

    /// <summary>The items of one line of JSON text (a TruthfulQA line gives two). <paramref name="file"/> and <paramref name="lineNumber"/> name it in errors and ids.</summary>
    public static IReadOnlyList<MultipleChoiceItem> ParseLine(string json, MultipleChoiceFormat format = MultipleChoiceFormat.Auto,
        string file = "<input>", int lineNumber = 1)
    {
        using var doc = ParseJson(json, file, lineNumber);
        var root = doc.RootElement;
        if (format == MultipleChoiceFormat.Auto) format = Detect(root) ?? throw Unknown(root, file, lineNumber);
        return ParseLine(root, format, file, lineNumber);
    }

    /// <summary>
    /// The shape of a line from its keys, or null when none fits. Checked most specific first: <c>mc1_targets</c>/
    /// <c>mc2_targets</c> → TruthfulQA; <c>goal</c> + <c>sol1</c> → PIQA; <c>endings</c> → HellaSwag; <c>answerKey</c> or
    /// an object <c>choices</c> → ARC; <c>subject</c> + <c>choices</c> + <c>answer</c> → MMLU (an MMLU export without
    /// <c>subject</c> reads as generic: pass <see cref="MultipleChoiceFormat.Mmlu"/> to get its lettered prompt);
    /// a <c>choices</c> array → generic.
    /// </summary>
    public static MultipleChoiceFormat? Detect(JsonElement line)
    {
        if (line.ValueKind != JsonValueKind.Object) return null;
        bool Has(string key) => line.TryGetProperty(key, out _);
        if (Has("mc1_targets") || Has("mc2_targets")) return MultipleChoiceFormat.TruthfulQa;
        if (Has("goal") && Has("sol1")) return MultipleChoiceFormat.Piqa;
        if (Has("endings")) return MultipleChoiceFormat.HellaSwag;
        var choicesIsObject = line.TryGetProperty("choices", out var c) && c.ValueKind == JsonValueKind.Object;
        if (Has("answerKey") || choicesIsObject) return MultipleChoiceFormat.Arc;
        if (Has("subject") && Has("choices") && Has("answer")) return MultipleChoiceFormat.Mmlu;
        if (Has("choices")) return MultipleChoiceFormat.Generic;
        return null;
    }

    private static IReadOnlyList<MultipleChoiceItem> ParseLine(JsonElement root, MultipleChoiceFormat format, string file, int line)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new MultipleChoiceDataException(file, line, $"expected a JSON object, found {root.ValueKind}");
        var id = line.ToString(CultureInfo.InvariantCulture);
        var f = new Fields(root, file, line);
        switch (format)
        {
            case MultipleChoiceFormat.Generic:
            {
                string context;
                if (root.TryGetProperty("query", out _)) context = f.String("query");
                else if (root.TryGetProperty("question", out _)) context = "Question: " + f.String("question") + "\nAnswer:";
                else if (root.TryGetProperty("ctx", out _)) context = f.String("ctx");
                else throw f.Missing("\"question\", \"query\" or \"ctx\"");
                var choices = f.Strings(root, "choices");
                var goldKey = new[] { "gold", "label", "answer" }.FirstOrDefault(k => root.TryGetProperty(k, out _))
                    ?? throw f.Missing("\"gold\", \"label\" or \"answer\"");
                return [Item(f, id, context, choices, [f.Gold(goldKey, choices.Count)])];
            }
            case MultipleChoiceFormat.Arc:
            {
                var question = f.String("question");
                var choicesObj = f.Object("choices");
                var texts = f.Strings(choicesObj, "text", "choices.text");
                var labels = f.Strings(choicesObj, "label", "choices.label");
                if (labels.Count != texts.Count)
                    throw f.Bad("choices", $"choices.label has {labels.Count} entries but choices.text has {texts.Count}");
                var key = f.Scalar("answerKey");
                int gold = labels.ToList().IndexOf(key);
                if (gold < 0) throw f.Bad("answerKey", $"answerKey \"{key}\" is not one of the labels [{string.Join(", ", labels)}]");
                return [Item(f, id, "Question: " + question + "\nAnswer:", texts, [gold])];
            }
            case MultipleChoiceFormat.HellaSwag:
            {
                string query;
                if (root.TryGetProperty("ctx_a", out _) && root.TryGetProperty("ctx_b", out _) && root.TryGetProperty("activity_label", out _))
                    query = HellaSwagPreprocess(f.String("activity_label") + ": " + f.String("ctx_a") + " " + PythonCapitalize(f.String("ctx_b")));
                else if (root.TryGetProperty("ctx", out _))
                    query = HellaSwagPreprocess(f.String("ctx"));
                else throw f.Missing("\"ctx\" (or \"activity_label\", \"ctx_a\" and \"ctx_b\")");
                var endings = f.Strings(root, "endings").Select(HellaSwagPreprocess).ToArray();
                return [Item(f, id, query, endings, [f.Gold("label", endings.Length)])];
            }
            case MultipleChoiceFormat.Mmlu:
            {
                var question = f.String("question").Trim();
                var choices = f.Strings(root, "choices");
                int gold = f.Gold("answer", choices.Count);
                var sb = new StringBuilder(question);
                for (int i = 0; i < choices.Count; i++) sb.Append('\n').Append(MultipleChoiceMetrics.Letter(i)).Append(". ").Append(choices[i]);
                sb.Append("\nAnswer:");
                var letters = Enumerable.Range(0, choices.Count).Select(MultipleChoiceMetrics.Letter).ToArray();
                // The per-subject yaml's description, with the dataset's snake_case subject spelled out.
                var description = root.TryGetProperty("subject", out _) && f.String("subject") is { Length: > 0 } subject
                    ? "The following are multiple choice questions (with answers) about " + subject.Replace('_', ' ') + ".\n\n"
                    : "";
                return [Item(f, id, sb.ToString(), letters, [gold]) with { Description = description }];
            }
            case MultipleChoiceFormat.Piqa:
            {
                var choices = new[] { f.String("sol1"), f.String("sol2") };
                return [Item(f, id, "Question: " + f.String("goal") + "\nAnswer:", choices, [f.Gold("label", 2)])];
            }
            case MultipleChoiceFormat.TruthfulQa:
            {
                var context = TruthfulQaPrompt.For(f.String("question"));
                var items = new List<MultipleChoiceItem>(2);
                bool any = false;
                foreach (var (key, scoring, suffix) in new[]
                         {
                             ("mc1_targets", MultipleChoiceScoring.TruthfulQaMc1, "mc1"),
                             ("mc2_targets", MultipleChoiceScoring.TruthfulQaMc2, "mc2"),
                         })
                {
                    if (!root.TryGetProperty(key, out _)) continue;
                    any = true;
                    var targets = f.Object(key);
                    var choices = f.Strings(targets, "choices", key + ".choices");
                    var labels = f.Ints(targets, "labels", key + ".labels");
                    if (labels.Count != choices.Count)
                        throw f.Bad(key, $"{key}.labels has {labels.Count} entries but {key}.choices has {choices.Count}");
                    if (labels.Any(l => l is not (0 or 1))) throw f.Bad(key, $"{key}.labels must be 0 or 1");
                    var gold = Enumerable.Range(0, labels.Count).Where(i => labels[i] == 1).ToArray();
                    if (gold.Length == 0) throw f.Bad(key, $"{key} has no true answer (no label 1)");
                    if (scoring == MultipleChoiceScoring.TruthfulQaMc1 && gold.Length != 1)
                        throw f.Bad(key, $"mc1_targets must have exactly one true answer, found {gold.Length}");
                    items.Add(Item(f, id + "/" + suffix, context, choices, gold, scoring));
                }
                if (!any) throw f.Missing("\"mc1_targets\" or \"mc2_targets\"");
                return items;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "a concrete format is needed");
        }
    }

    private static MultipleChoiceItem Item(Fields f, string id, string context, IReadOnlyList<string> choices, int[] gold,
        MultipleChoiceScoring scoring = MultipleChoiceScoring.Accuracy)
    {
        if (choices.Count == 0) throw f.Bad("choices", "no choices");
        return new MultipleChoiceItem(id, context, choices, gold, scoring);
    }

    /// <summary>lm-evaluation-harness hellaswag <c>preprocess</c>: trim, " [title]" → ". ", drop "[…]" tags, "  " → " " (one pass, as Python's replace).</summary>
    internal static string HellaSwagPreprocess(string text)
    {
        text = text.Trim();
        text = text.Replace(" [title]", ". ", StringComparison.Ordinal);
        text = BracketTag().Replace(text, "");
        return text.Replace("  ", " ", StringComparison.Ordinal);
    }

    /// <summary>Python's <c>str.capitalize</c>: first character upper case, the rest lower case.</summary>
    internal static string PythonCapitalize(string s) =>
        s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..].ToLowerInvariant();

    [GeneratedRegex(@"\[.*?\]")]
    private static partial Regex BracketTag();

    private static JsonDocument ParseJson(string text, string file, int line)
    {
        try { return JsonDocument.Parse(text); }
        catch (JsonException e) { throw new MultipleChoiceDataException(file, line, $"not valid JSON: {e.Message}", inner: e); }
    }

    private static MultipleChoiceDataException Unknown(JsonElement root, string file, int line)
    {
        var keys = root.ValueKind == JsonValueKind.Object ? string.Join(", ", root.EnumerateObject().Select(p => p.Name)) : root.ValueKind.ToString();
        if (root.ValueKind == JsonValueKind.Object && root.TryGetProperty("instructions", out _) && root.TryGetProperty("outputs", out _))
            return new MultipleChoiceDataException(file, line,
                "this is an L-Eval line (input, instructions, outputs): read it with LEvalMultipleChoice, whose questions carry their options inline");
        return new MultipleChoiceDataException(file, line,
            $"no known multiple-choice shape fits the keys [{keys}]: expected \"choices\" (generic, ARC, MMLU), \"endings\" (HellaSwag), " +
            "\"goal\"/\"sol1\"/\"sol2\" (PIQA) or \"mc1_targets\"/\"mc2_targets\" (TruthfulQA)");
    }

    /// <summary>Typed access to one line's fields, every failure naming the file, line and key.</summary>
    private readonly record struct Fields(JsonElement Root, string File, int Line)
    {
        public MultipleChoiceDataException Missing(string what) => new(File, Line, $"missing {what}");
        public MultipleChoiceDataException Bad(string key, string problem) => new(File, Line, problem, key);

        private JsonElement Get(JsonElement obj, string key, string name)
        {
            if (obj.ValueKind != JsonValueKind.Object || !obj.TryGetProperty(key, out var v) || v.ValueKind == JsonValueKind.Null)
                throw new MultipleChoiceDataException(File, Line, $"missing \"{name}\"", name);
            return v;
        }

        public string String(string key) => String(Root, key, key);

        private string String(JsonElement obj, string key, string name)
        {
            var v = Get(obj, key, name);
            return v.ValueKind == JsonValueKind.String ? v.GetString()!
                : throw new MultipleChoiceDataException(File, Line, $"\"{name}\" must be a string, found {v.ValueKind}", name);
        }

        /// <summary>A string or number as text (ARC's answerKey is "A" or "1").</summary>
        public string Scalar(string key)
        {
            var v = Get(Root, key, key);
            return v.ValueKind switch
            {
                JsonValueKind.String => v.GetString()!,
                JsonValueKind.Number => v.GetRawText(),
                _ => throw Bad(key, $"\"{key}\" must be a string or number, found {v.ValueKind}"),
            };
        }

        public JsonElement Object(string key)
        {
            var v = Get(Root, key, key);
            return v.ValueKind == JsonValueKind.Object ? v : throw Bad(key, $"\"{key}\" must be an object, found {v.ValueKind}");
        }

        public IReadOnlyList<string> Strings(JsonElement obj, string key, string? name = null)
        {
            name ??= key;
            var v = Get(obj, key, name);
            if (v.ValueKind != JsonValueKind.Array) throw Bad(name, $"\"{name}\" must be an array of strings, found {v.ValueKind}");
            var list = new List<string>();
            foreach (var e in v.EnumerateArray())
                list.Add(e.ValueKind == JsonValueKind.String ? e.GetString()!
                    : throw Bad(name, $"\"{name}\" must hold only strings, found {e.ValueKind}"));
            if (list.Count == 0) throw Bad(name, $"\"{name}\" is empty");
            return list;
        }

        public IReadOnlyList<int> Ints(JsonElement obj, string key, string name)
        {
            var v = Get(obj, key, name);
            if (v.ValueKind != JsonValueKind.Array) throw Bad(name, $"\"{name}\" must be an array of integers, found {v.ValueKind}");
            var list = new List<int>();
            foreach (var e in v.EnumerateArray())
                list.Add(e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var i) ? i
                    : throw Bad(name, $"\"{name}\" must hold only integers, found {e.GetRawText()}"));
            return list;
        }

        /// <summary>
        /// A gold answer: a 0-based index (number, or digits in a string, as HellaSwag's "label": "3") or a single
        /// option letter ("B" → 1). Must fall among the <paramref name="count"/> choices.
        /// </summary>
        public int Gold(string key, int count)
        {
            var v = Get(Root, key, key);
            int index;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n)) index = n;
            else if (v.ValueKind == JsonValueKind.String)
            {
                var s = v.GetString()!.Trim();
                if (int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var d)) index = d;
                else if (s.Length == 1 && char.IsAsciiLetterUpper(s[0])) index = s[0] - 'A';
                else throw Bad(key, $"\"{key}\" must be a choice index or an option letter, found \"{s}\"");
            }
            else throw Bad(key, $"\"{key}\" must be a choice index or an option letter, found {v.GetRawText()}");
            if (index < 0 || index >= count) throw Bad(key, $"\"{key}\" = {v.GetRawText()} is not among the {count} choices");
            return index;
        }
    }
}
