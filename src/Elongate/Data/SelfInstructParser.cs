using System.Text.Json;
using System.Text.RegularExpressions;

namespace Elongate.Data;

/// <summary>
/// Tolerant parsing of a teacher's replies: the question–answer pair as a JSON object (possibly inside ``` fences or
/// surrounded by other text), else as "Question: … Answer: …" lines; and the self-check verdict (yes / no).
/// </summary>
public static partial class SelfInstructParser
{
    /// <summary>The question and answer in <paramref name="reply"/>, or null when it holds neither form (or either part is empty).</summary>
    public static (string Question, string Answer)? ParsePair(string? reply)
    {
        if (string.IsNullOrWhiteSpace(reply)) return null;
        for (int start = reply.IndexOf('{'); start >= 0; start = reply.IndexOf('{', start + 1))
            if (TryJsonAt(reply, start) is { } pair) return pair;
        var m = LinesPattern().Match(reply);
        if (m.Success)
        {
            var q = Clean(m.Groups["q"].Value);
            var a = Clean(m.Groups["a"].Value);
            if (q.Length > 0 && a.Length > 0) return (q, a);
        }
        return null;
    }

    private static (string, string)? TryJsonAt(string text, int start)
    {
        var reader = new Utf8JsonReader(System.Text.Encoding.UTF8.GetBytes(text[start..]), new JsonReaderOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        try
        {
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) return null;
            string? q = null, a = null;
            foreach (var p in doc.RootElement.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) continue;
                if (p.Name.Equals("question", StringComparison.OrdinalIgnoreCase)) q = p.Value.GetString();
                else if (p.Name.Equals("answer", StringComparison.OrdinalIgnoreCase)) a = p.Value.GetString();
            }
            q = q is null ? null : Clean(q);
            a = a is null ? null : Clean(a);
            return q is { Length: > 0 } && a is { Length: > 0 } ? (q, a) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string Clean(string s) => s.Trim().Trim('"', '*').Trim();

    /// <summary>The self-check verdict: true for "yes", false for "no", null when the reply starts with neither.</summary>
    public static bool? ParseVerdict(string? reply)
    {
        if (reply is null) return null;
        var m = VerdictPattern().Match(reply);
        if (!m.Success) return null;
        return m.Groups[1].Value.Equals("yes", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Lower-case letters and digits of <paramref name="text"/>, words separated by single spaces: near-duplicate questions compare equal.</summary>
    public static string Normalize(string text)
    {
        var sb = new System.Text.StringBuilder(text.Length);
        bool space = false;
        foreach (var c in text)
        {
            if (char.IsLetterOrDigit(c))
            {
                if (space && sb.Length > 0) sb.Append(' ');
                sb.Append(char.ToLowerInvariant(c));
                space = false;
            }
            else space = true;
        }
        return sb.ToString();
    }

    /// <summary>Whether the answer quotes the chunk: some run of three words of the answer (or the whole answer, when shorter) occurs in the chunk, normalized.</summary>
    public static bool QuotesChunk(string answer, string chunk)
    {
        var a = Normalize(answer).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var c = " " + Normalize(chunk) + " ";
        if (a.Length == 0) return false;
        if (a.Length < 3) return c.Contains(" " + string.Join(' ', a) + " ", StringComparison.Ordinal);
        for (int i = 0; i + 3 <= a.Length; i++)
            if (c.Contains(" " + string.Join(' ', a, i, 3) + " ", StringComparison.Ordinal)) return true;
        return false;
    }

    [GeneratedRegex(@"(?is)\bquestion[*_]*\s*[:：][*_\s]*(?<q>.+?)[\s*_#>-]+answer[*_]*\s*[:：][*_\s]*(?<a>.+?)\s*$")]
    private static partial Regex LinesPattern();

    [GeneratedRegex(@"^\W*(yes|no)\b", RegexOptions.IgnoreCase)]
    private static partial Regex VerdictPattern();
}
