using System.Text;
using System.Text.RegularExpressions;

namespace Elongate.Evaluation;

/// <summary>
/// The passkey retrieval test of Landmark Attention (Mohtashami &amp; Jaggi 2023), with its exact wording: a task
/// line, filler sentences repeated to the target length, the needle at a chosen depth, then the question. The model
/// answers greedily; it is correct when the first integer it generates equals the key.
/// </summary>
public static partial class PasskeyProbe
{
    public const string TaskLine = Data.RetrievalDocuments.PasskeyTaskLine; // one wording for training documents and probe (Data sits below Evaluation)
    public const string Filler = Data.RetrievalDocuments.PasskeyFiller;
    public const string Question = Data.RetrievalDocuments.PasskeyQuestion;

    /// <summary>The needle sentence for key <paramref name="key"/>.</summary>
    public static string Needle(int key) => Data.RetrievalDocuments.PasskeyNeedle(key);

    /// <summary>
    /// Builds the prompt with <paramref name="fillerRepeats"/> filler blocks and the needle after
    /// round(depth·fillerRepeats) of them (depth 0 = right after the task line, 1 = just before the question).
    /// </summary>
    public static string BuildPrompt(int key, int fillerRepeats, double depth)
    {
        var sb = new StringBuilder(BeforeNeedle(fillerRepeats, depth, out int before));
        sb.Append(' ').Append(Needle(key));
        for (int i = before; i < fillerRepeats; i++) sb.Append(' ').Append(Filler);
        sb.Append(' ').Append(Question);
        return sb.ToString();
    }

    /// <summary>
    /// The prompt's text before the needle: the task line and round(depth·fillerRepeats) filler blocks
    /// (<paramref name="before"/>). <see cref="BuildPrompt"/> continues it; the key's distance is measured from its end.
    /// </summary>
    public static string BeforeNeedle(int fillerRepeats, double depth, out int before)
    {
        if (fillerRepeats < 0) throw new ArgumentOutOfRangeException(nameof(fillerRepeats), "must be ≥ 0");
        if (!(depth >= 0 && depth <= 1)) throw new ArgumentOutOfRangeException(nameof(depth), "must be in [0, 1]");
        before = (int)Math.Round(depth * fillerRepeats);
        var sb = new StringBuilder(TaskLine);
        for (int i = 0; i < before; i++) sb.Append(' ').Append(Filler);
        return sb.ToString();
    }

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();

    /// <summary>The first run of digits in <paramref name="generated"/> as an integer, or null if there is none (or it overflows).</summary>
    public static long? FirstInteger(string generated)
    {
        var m = Digits().Match(generated);
        return m.Success && long.TryParse(m.Value, out var v) ? v : null;
    }

    /// <summary>Whether a generation answers key <paramref name="key"/> correctly.</summary>
    public static bool IsCorrect(string generated, int key) => FirstInteger(generated) == key;
}
