using System.Text;

namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Few-shot examples for a question: <c>shots</c> distinct other documents of the same file, drawn at random, and
/// one of each document's questions with its first reference as the solved answer. A document whose text equals the
/// query's (L-Eval's gsm100 repeats one input on every line) counts as the same document, so an example never shows
/// the query's own text. The draw is seeded by (seed, task, document, question, shots) through a fixed hash, so it
/// is the same in every run, at every length and whatever order questions are asked in (a resumed run draws what
/// the interrupted one drew). A file with fewer other documents than asked gives as many as it has.
/// </summary>
public static class TaskExampleSampler
{
    /// <summary>The examples for (<paramref name="document"/>, <paramref name="query"/>), in prompt order.</summary>
    public static IReadOnlyList<(TaskDocument Document, TaskQuery Query)> Select(TaskFile file, TaskDocument document, TaskQuery query, int shots, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shots);
        if (shots == 0) return [];
        var candidates = file.Documents.Where(d => d.Index != document.Index && d.Text != document.Text && d.Queries.Count > 0).ToList();
        var random = new Random(StableSeed($"{seed}\u001f{file.Name}\u001f{document.Index}\u001f{query.Index}\u001f{shots}"));
        int k = Math.Min(shots, candidates.Count);
        // Partial Fisher–Yates: the first k slots become a uniform sample without replacement.
        for (int i = 0; i < k; i++)
        {
            int j = random.Next(i, candidates.Count);
            (candidates[i], candidates[j]) = (candidates[j], candidates[i]);
        }
        return candidates.Take(k).Select(d => (d, d.Queries[random.Next(d.Queries.Count)])).ToList();
    }

    /// <summary>FNV-1a over the UTF-8 text, folded to an int: string.GetHashCode is randomised per process.</summary>
    internal static int StableSeed(string text)
    {
        ulong h = 14695981039346656037UL;
        foreach (var b in Encoding.UTF8.GetBytes(text))
        {
            h ^= b;
            h *= 1099511628211UL;
        }
        return (int)(h ^ (h >> 32));
    }
}
