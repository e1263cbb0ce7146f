using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Reads the answer of an exam task from a model's reply and matches it with the reference, following L-Eval's
/// Evaluation/auto_eval.py (process_output_mc, process_gt_mc, process_math, process_output_judge) and em.py
/// (exact_match_score). Where L-Eval falls back to a random guess ("A") for a reply it cannot read, this scorer
/// reports <see cref="TaskScore.Parsed"/> = false and 0 instead, so unreadable replies are counted, not guessed.
/// </summary>
public static partial class ExamAnswer
{
    private const string Options = "ABCD";

    // auto_eval.py: r"\s*[A-Z](?=[\s.)])" — a capital followed by whitespace, '.' or ')' ("B.", "D)", "C and").
    [GeneratedRegex(@"\s*[A-Z](?=[\s.)])", RegexOptions.CultureInvariant)]
    private static partial Regex OptionMention();

    // auto_eval.py process_math: the few-shot prompt ends every worked answer with "The answer is N".
    [GeneratedRegex(@"The answer is (\S+)", RegexOptions.CultureInvariant)]
    private static partial Regex AnswerIs();

    [GeneratedRegex(@"^\$?[+-]?(\d[\d,]*)?\.?\d+$", RegexOptions.CultureInvariant)]
    private static partial Regex NumericReference();

    /// <summary>
    /// The exam format of an L-Eval file or task name: coursera → <see cref="ExamFormat.Letters"/>; tpo, quality →
    /// <see cref="ExamFormat.Letter"/>; sci_fi → <see cref="ExamFormat.TrueFalse"/>; gsm* (gsm100) →
    /// <see cref="ExamFormat.Number"/>; topic_retrieval* → <see cref="ExamFormat.Text"/>. The name is matched by its
    /// start (L-Eval tests substrings of the whole path, which would also take "hotpot" for "tpo"). Other exam files
    /// are guessed from <paramref name="reference"/>: one option letter A–D (optionally followed by '.', ')' or ':'
    /// and more words) → Letter; two to four distinct letters A–D alone → Letters; "True"/"False" first → TrueFalse;
    /// a plain number → Number; anything else → Text.
    /// </summary>
    public static ExamFormat FormatFor(string fileNameOrTask, string reference)
    {
        ArgumentNullException.ThrowIfNull(fileNameOrTask);
        ArgumentNullException.ThrowIfNull(reference);
        var name = Path.GetFileName(fileNameOrTask).ToLowerInvariant();
        if (name.StartsWith("coursera", StringComparison.Ordinal)) return ExamFormat.Letters;
        if (name.StartsWith("tpo", StringComparison.Ordinal) || name.StartsWith("quality", StringComparison.Ordinal)) return ExamFormat.Letter;
        if (name.StartsWith("sci_fi", StringComparison.Ordinal)) return ExamFormat.TrueFalse;
        if (name.StartsWith("gsm", StringComparison.Ordinal)) return ExamFormat.Number;
        if (name.StartsWith("topic_retrieval", StringComparison.Ordinal)) return ExamFormat.Text;
        return GuessFormat(reference);
    }

    /// <summary>The format a reference answer looks like (the guess of <see cref="FormatFor"/> for unknown files).</summary>
    public static ExamFormat GuessFormat(string reference)
    {
        var trimmed = reference.Trim();
        var first = FirstWord(trimmed);
        if (first is not null)
        {
            var letters = first.TrimEnd('.', ')', ':', ',');
            if (letters.Length == 1 && Options.Contains(letters[0])) return ExamFormat.Letter;
            if (trimmed == letters && letters.Length is >= 2 and <= 4 && letters.All(Options.Contains) && letters.Distinct().Count() == letters.Length)
                return ExamFormat.Letters;
        }
        if (ReadTrueFalse(reference) is not null && (first?.ToLowerInvariant().TrimEnd('.', ',') is "true" or "false")) return ExamFormat.TrueFalse;
        if (NumericReference().IsMatch(trimmed)) return ExamFormat.Number;
        return ExamFormat.Text;
    }

    /// <summary>
    /// Scores <paramref name="prediction"/> against <paramref name="reference"/> in <paramref name="format"/>:
    /// <list type="bullet">
    /// <item><see cref="ExamFormat.Letter"/>: the reply itself when it is a run of "ABCD" ("B", "BC"), else its first
    /// capital A–D anywhere (as in L-Eval, "The answer is C" reads C but "Answer: C" reads the A of "Answer").</item>
    /// <item><see cref="ExamFormat.Letters"/>: the reply when it is a run of "ABCD"; else its leading capitals A–D
    /// when there are two or more ("AC", "CA." → AC); else the leading letter plus every capital followed by
    /// whitespace, '.' or ')' before the first "Question", letters outside A–D dropped. Read letters are a sorted set.</item>
    /// <item>Option letters are matched as sets: equal → 1; a proper subset of the reference's letters (some but not
    /// all correct options) → 0.25, L-Eval's partial credit; otherwise 0. The reference's letters are those of its
    /// first word (L-Eval process_gt_mc).</item>
    /// <item><see cref="ExamFormat.TrueFalse"/>: the lower-cased text before "[fact:", the first word containing
    /// "true" or "false" (L-Eval process_output_judge, so "untrue" reads true), against the same reading of the
    /// reference's part before " [fact:" — L-Eval's "loyalty" judgement; its second, "fact", judgement is not scored.</item>
    /// <item><see cref="ExamFormat.Number"/>: the word after "The answer is", else the last space-separated word with a
    /// digit in the first paragraph; its digits up to the first '.' ("$1,250.50" → 1250; signs are dropped as in L-Eval);
    /// equal as numbers to the reference read the same way.</item>
    /// <item><see cref="ExamFormat.Text"/>: when reply and reference both parse as numbers, equal numbers; otherwise the
    /// first line of the reply longer than one character, correct when it contains the reference, both lower-cased with
    /// spaces removed (em.py). An empty or blank reply is unparsed.</item>
    /// </list>
    /// </summary>
    /// <exception cref="FormatException">The reference itself cannot be read in <paramref name="format"/>.</exception>
    public static TaskScore Score(ExamFormat format, string prediction, string reference)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(reference);
        switch (format)
        {
            case ExamFormat.Letter or ExamFormat.Letters:
            {
                var want = ReferenceLetters(reference) ?? throw new FormatException($"exam reference has no option letter A–D in its first word: '{Clip(reference)}'");
                var read = ReadLetters(prediction, multiple: format == ExamFormat.Letters);
                return read is null ? TaskScore.Unparsed : new TaskScore(MatchLetters(read, want), true, read);
            }
            case ExamFormat.TrueFalse:
            {
                var want = ReadTrueFalse(reference) ?? throw new FormatException($"true/false reference has no True or False before '[fact:': '{Clip(reference)}'");
                var read = ReadTrueFalse(prediction);
                return read is null ? TaskScore.Unparsed : new TaskScore(read == want ? 1 : 0, true, read);
            }
            case ExamFormat.Number:
            {
                var want = ReadNumber(reference) ?? throw new FormatException($"numeric reference has no digits: '{Clip(reference)}'");
                var read = ReadNumber(prediction);
                return read is null ? TaskScore.Unparsed : new TaskScore(SameNumber(read, want) ? 1 : 0, true, read);
            }
            case ExamFormat.Text:
            {
                if (reference.Trim().Length == 0) throw new FormatException("text reference is empty");
                // em.py: float(prediction) == float(reference) first, on the whole reply; the line rule only when either is not a number.
                if (TryPythonFloat(prediction, out var p) && TryPythonFloat(reference, out var r))
                    return new TaskScore(p == r ? 1 : 0, true, prediction.Trim());
                var line = ReadTextLine(prediction);
                return line is null ? TaskScore.Unparsed : new TaskScore(ContainsSquashed(line, reference) ? 1 : 0, true, line.Trim());
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "unknown exam format");
        }
    }

    /// <summary>The option letters read from a reply (sorted, distinct, A–D), or null when there are none. See <see cref="Score"/>.</summary>
    public static string? ReadLetters(string reply, bool multiple)
    {
        ArgumentNullException.ThrowIfNull(reply);
        if (reply.Length == 0) return null;
        // `response in "ABCD"`: a contiguous run such as "B" or "BCD" is taken as it is.
        if (Options.Contains(reply, StringComparison.Ordinal)) return reply;
        if (!multiple)
        {
            foreach (char c in reply)
                if (Options.Contains(c)) return c.ToString();
            return null;
        }
        int lead = 0;
        while (lead < reply.Length && Options.Contains(reply[lead])) lead++;
        if (lead > 1) return SortedSet(reply[..lead]);
        var rest = reply[lead..];
        int question = rest.IndexOf("Question", StringComparison.Ordinal);
        if (question >= 0) rest = rest[..question];
        var mentioned = string.Join(' ', OptionMention().Matches(rest).Select(m => m.Value)).Trim();
        var letters = SortedSet(reply[..lead] + mentioned);
        return letters.Length == 0 ? null : letters;
    }

    /// <summary>The option letters of a reference: its first word's characters A–D, sorted and distinct; null when none.</summary>
    public static string? ReferenceLetters(string reference)
    {
        var first = FirstWord(reference);
        if (first is null) return null;
        var letters = SortedSet(first);
        return letters.Length == 0 ? null : letters;
    }

    /// <summary>"true" or "false" as L-Eval's process_output_judge reads the part of <paramref name="text"/> before "[fact:"; null when neither occurs.</summary>
    public static string? ReadTrueFalse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var lower = text.ToLowerInvariant();
        int fact = lower.IndexOf("[fact:", StringComparison.Ordinal);
        if (fact >= 0) lower = lower[..fact];
        foreach (var word in SplitWhitespace(lower))
        {
            if (word.Contains("true", StringComparison.Ordinal)) return "true";
            if (word.Contains("false", StringComparison.Ordinal)) return "false";
        }
        return null;
    }

    /// <summary>The digits of the answer number as L-Eval's process_math reads <paramref name="text"/>; null when there are none.</summary>
    public static string? ReadNumber(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string word = "";
        var answerIs = AnswerIs().Match(text);
        if (answerIs.Success) word = answerIs.Groups[1].Value;
        else
        {
            int paragraph = text.IndexOf("\n\n", StringComparison.Ordinal);
            var first = paragraph >= 0 ? text[..paragraph] : text;
            // Python's split(' '): single spaces only, so "is\n18" stays one word.
            var words = first.Split(' ');
            for (int i = words.Length - 1; i >= 0; i--)
            {
                if (words[i].Any(char.IsDigit))
                {
                    word = words[i];
                    break;
                }
            }
        }
        var digits = new StringBuilder();
        foreach (char c in word)
        {
            if (c == '.') break;
            // Python's isdigit() accepts every script's decimal digits; float() reads them as their values.
            if (char.IsDigit(c)) digits.Append((char)('0' + (int)char.GetNumericValue(c)));
        }
        return digits.Length == 0 ? null : digits.ToString();
    }

    private static string? ReadTextLine(string reply)
    {
        if (reply.Trim().Length == 0) return null;
        // em.py: the first line longer than one character is the answer (a reply may open with a blank line).
        foreach (var line in reply.Split('\n'))
            if (line.Length > 1) return line;
        return reply;
    }

    // em.py: reference.lower().replace(" ", "") in prediction.lower().replace(" ", "") — only the space character goes.
    private static bool ContainsSquashed(string line, string reference)
    {
        static string Squash(string s) => s.ToLowerInvariant().Replace(" ", "", StringComparison.Ordinal);
        return Squash(line).Contains(Squash(reference), StringComparison.Ordinal);
    }

    private static double MatchLetters(string read, string want)
    {
        if (read == want) return 1;
        // em.py: set(prediction) ⊆ set(reference) earns 0.25 ("has many correct options").
        return read.All(want.Contains) ? 0.25 : 0;
    }

    // em.py compares float(prediction) == float(reference); digit strings parse the same way in .NET.
    private static bool SameNumber(string a, string b) =>
        double.Parse(a, NumberStyles.None, CultureInfo.InvariantCulture) == double.Parse(b, NumberStyles.None, CultureInfo.InvariantCulture);

    private static bool TryPythonFloat(string s, out double value) =>
        double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out value);

    private static string SortedSet(string s) => new(s.Where(Options.Contains).Distinct().Order().ToArray());

    private static string? FirstWord(string s)
    {
        var words = SplitWhitespace(s);
        return words.Length == 0 ? null : words[0];
    }

    private static string[] SplitWhitespace(string s) =>
        s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    private static string Clip(string s) => s.Length <= 80 ? s : s[..80] + "…";
}
