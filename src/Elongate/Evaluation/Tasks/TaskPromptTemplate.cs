using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// A prompt template file: generation settings, how one solved few-shot example is written, and the prompt.
/// <code>
/// # comment lines (before the first section or in [settings])
/// [settings]
/// max_new_tokens = 16        # the answer budget, in the model's tokens
/// stop = \n                  # a stop string (\n, \t, \\ escapes); repeat the line for several
/// [example]
/// ...{document}...{question}...{answer}...
/// [prompt]
/// ...{examples}...{document}...{question}...
/// </code>
/// A section's text is its lines joined by line feeds, without the line break before the next section header, so
/// blank lines at the end of [example] separate the examples. Placeholders are replaced in one pass (a document
/// containing "{question}" stays as it is); an unknown placeholder is an error, so typos do not pass silently.
/// </summary>
public sealed partial class TaskPromptTemplate
{
    /// <summary>Where the template came from (file path or "built-in:NAME").</summary>
    public string Source { get; }

    /// <summary>The answer budget in the model's tokens.</summary>
    public int MaxNewTokens { get; }

    /// <summary>Strings that end the answer.</summary>
    public IReadOnlyList<string> Stop { get; }

    /// <summary>One solved example: {document}, {question}, {answer}.</summary>
    public string Example { get; }

    /// <summary>The prompt: {examples}, {document}, {question}.</summary>
    public string Prompt { get; }

    /// <summary>The template's text as read, for the run's fingerprint.</summary>
    public string Text { get; }

    private TaskPromptTemplate(string source, string text, int maxNewTokens, IReadOnlyList<string> stop, string example, string prompt)
    {
        Source = source;
        Text = text;
        MaxNewTokens = maxNewTokens;
        Stop = stop;
        Example = example;
        Prompt = prompt;
    }

    [GeneratedRegex(@"\{([A-Za-z_]+)\}")]
    private static partial Regex Placeholder();

    /// <summary>Parses a template; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="TaskDataException">A missing section or setting, a bad value or an unknown placeholder (with the line).</exception>
    public static TaskPromptTemplate Parse(string source, string text)
    {
        var normalized = text.ReplaceLineEndings("\n");
        // A final line break ends the last line; it does not add an empty line to the [prompt].
        var lines = (normalized.EndsWith('\n') ? normalized[..^1] : normalized).Split('\n');
        string? section = null;
        int? maxNew = null;
        var stop = new List<string>();
        var bodies = new Dictionary<string, StringBuilder>();
        var starts = new Dictionary<string, int>();
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            var trimmed = line.Trim();
            if (trimmed is "[settings]" or "[example]" or "[prompt]")
            {
                section = trimmed[1..^1];
                if (bodies.ContainsKey(section)) throw new TaskDataException(source, i + 1, $"section {trimmed} appears twice");
                bodies[section] = new StringBuilder();
                starts[section] = i + 1;
                continue;
            }
            if (section is null or "settings")
            {
                if (trimmed.Length == 0 || trimmed.StartsWith('#')) continue;
                if (section is null) throw new TaskDataException(source, i + 1, "text before the first section; start with [settings], [example] or [prompt]");
                int eq = trimmed.IndexOf('=');
                if (eq < 0) throw new TaskDataException(source, i + 1, $"'{trimmed}' is not key = value");
                var key = trimmed[..eq].Trim();
                var value = trimmed[(eq + 1)..].Trim();
                switch (key)
                {
                    case "max_new_tokens":
                        maxNew = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0
                            ? n : throw new TaskDataException(source, i + 1, $"max_new_tokens must be a positive integer, got '{value}'", key);
                        break;
                    case "stop":
                        var s = Unescape(source, i + 1, value);
                        if (s.Length == 0) throw new TaskDataException(source, i + 1, "an empty stop string would end every answer at once", key);
                        stop.Add(s);
                        break;
                    default:
                        throw new TaskDataException(source, i + 1, $"unknown setting '{key}' (max_new_tokens, stop)", key);
                }
                continue;
            }
            var body = bodies[section];
            if (body.Length > 0 || starts[section] != i) body.Append('\n');
            body.Append(line);
        }
        if (maxNew is null) throw new TaskDataException(source, "no max_new_tokens in [settings]");
        if (!bodies.TryGetValue("prompt", out var promptBody)) throw new TaskDataException(source, "no [prompt] section");
        if (!bodies.TryGetValue("example", out var exampleBody)) throw new TaskDataException(source, "no [example] section");
        var prompt = promptBody.ToString();
        var example = exampleBody.ToString();
        Check(source, starts["prompt"], prompt, ["examples", "document", "question"], ["document", "question"]);
        Check(source, starts["example"], example, ["document", "question", "answer"], ["document", "question", "answer"]);
        return new TaskPromptTemplate(source, text, maxNew.Value, stop, example, prompt);
    }

    /// <summary>The prompt with the given examples (already rendered) and document.</summary>
    public string Render(string examples, string document, string question) =>
        Fill(Prompt, key => key switch { "examples" => examples, "document" => document, _ => question });

    /// <summary>One solved example.</summary>
    public string RenderExample(string document, string question, string answer) =>
        Fill(Example, key => key switch { "document" => document, "question" => question, _ => answer });

    private static string Fill(string template, Func<string, string> value) =>
        Placeholder().Replace(template, m => value(m.Groups[1].Value));

    private static void Check(string source, int line, string body, string[] allowed, string[] required)
    {
        var used = Placeholder().Matches(body).Select(m => m.Groups[1].Value).ToHashSet();
        foreach (var u in used)
            if (!allowed.Contains(u))
                throw new TaskDataException(source, line, $"unknown placeholder {{{u}}} in this section (allowed: {string.Join(", ", allowed.Select(a => "{" + a + "}"))})");
        foreach (var r in required)
            if (!used.Contains(r)) throw new TaskDataException(source, line, $"this section has no {{{r}}}");
    }

    private static string Unescape(string source, int line, string value)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] != '\\') { sb.Append(value[i]); continue; }
            if (++i == value.Length) throw new TaskDataException(source, line, "a stop string ends with a lone backslash", "stop");
            sb.Append(value[i] switch
            {
                'n' => '\n',
                't' => '\t',
                's' => ' ',
                '\\' => '\\',
                var c => throw new TaskDataException(source, line, $"unknown escape \\{c} (use \\n, \\t, \\s for a space, \\\\)", "stop"),
            });
        }
        return sb.ToString();
    }
}
