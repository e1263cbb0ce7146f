namespace Elongate.Data;

/// <summary>
/// Remembers the questions kept so far and tells whether a new one repeats one of them: exactly, once normalized
/// (<see cref="SelfInstructParser.Normalize"/>: case, punctuation and spacing ignored), or nearly, by the Jaccard
/// similarity of the sets of word 3-grams ("shingles") of the normalized texts.
/// </summary>
/// <remarks>
/// Shingles catch the near-duplicates exact matching misses — the same question with a phrase added, dropped or
/// reworded at one end — while two questions that share a template but differ in the thing they ask about keep enough
/// distinct shingles to stay apart. A question of fewer than three words has one shingle, its whole normalized text,
/// so it can only match exactly. Candidates are found through an index from shingle to question, so each check costs
/// the questions that share a shingle with it, not all questions kept.
/// </remarks>
public sealed class QuestionDeduplicator
{
    /// <summary>Words per shingle.</summary>
    public const int ShingleWords = 3;

    /// <summary>
    /// The default <see cref="Threshold"/>, 0.6. "What is the name of the ship in the story?" against "What is the name
    /// of the ship?" shares 5 of 8 shingles (0.625): a near-duplicate. Two questions of one template that differ in a
    /// word in the middle share about half ("What is the password of the red fox?" against "… the blue fox?", 4 of 8,
    /// 0.5) and both are kept: they ask about different things.
    /// </summary>
    public const double DefaultThreshold = 0.6;

    private readonly HashSet<string> _exact = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _index = new(StringComparer.Ordinal);
    private readonly List<int> _sizes = [];

    /// <summary>Creates an empty deduplicator.</summary>
    /// <param name="threshold">Jaccard similarity of shingle sets at or above which a question is a near-duplicate; in (0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException">The threshold is outside (0, 1].</exception>
    public QuestionDeduplicator(double threshold = DefaultThreshold)
    {
        if (!(threshold > 0 && threshold <= 1))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the near-duplicate threshold must be in (0, 1]");
        Threshold = threshold;
    }

    /// <summary>Jaccard similarity at or above which a question counts as a near-duplicate.</summary>
    public double Threshold { get; }

    /// <summary>Questions remembered.</summary>
    public int Count => _sizes.Count;

    /// <summary>The distinct word 3-grams of <paramref name="text"/>, normalized; one shingle (the whole text) when it has fewer than three words, none when empty.</summary>
    public static HashSet<string> Shingles(string text)
    {
        var words = SelfInstructParser.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var set = new HashSet<string>(StringComparer.Ordinal);
        if (words.Length == 0) return set;
        if (words.Length < ShingleWords) set.Add(string.Join(' ', words));
        for (int i = 0; i + ShingleWords <= words.Length; i++) set.Add(string.Join(' ', words, i, ShingleWords));
        return set;
    }

    /// <summary>Jaccard similarity of the shingle sets of two texts (1 for two texts without words).</summary>
    public static double Similarity(string a, string b)
    {
        var x = Shingles(a);
        var y = Shingles(b);
        if (x.Count == 0 && y.Count == 0) return 1;
        int shared = x.Count(y.Contains);
        return (double)shared / (x.Count + y.Count - shared);
    }

    /// <summary>
    /// Checks <paramref name="question"/> against the questions remembered and remembers it when it is new.
    /// </summary>
    /// <returns><see cref="SelfInstructor.Duplicate"/> for an exact (normalized) repeat, <see cref="SelfInstructor.NearDuplicate"/>
    /// for a shingle near-duplicate, null for a new question (now remembered).</returns>
    public string? Add(string question)
    {
        var normalized = SelfInstructParser.Normalize(question);
        if (_exact.Contains(normalized)) return SelfInstructor.Duplicate;
        var shingles = Shingles(question);
        var shared = new Dictionary<int, int>();
        foreach (var s in shingles)
            if (_index.TryGetValue(s, out var ids))
                foreach (var id in ids) shared[id] = shared.GetValueOrDefault(id) + 1;
        foreach (var (id, n) in shared)
            if ((double)n / (shingles.Count + _sizes[id] - n) >= Threshold) return SelfInstructor.NearDuplicate;
        _exact.Add(normalized);
        int me = _sizes.Count;
        _sizes.Add(shingles.Count);
        foreach (var s in shingles)
        {
            if (!_index.TryGetValue(s, out var ids)) _index[s] = ids = [];
            ids.Add(me);
        }
        return null;
    }
}
