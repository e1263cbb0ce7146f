using System.Text.Json;
using System.Text.Json.Nodes;

namespace Elongate.Data;

/// <summary>
/// Contamination check: finds documents that share long word sequences (n-grams of normalized words, 13 by default,
/// as in the GPT-3 and Llama decontamination studies) with the inputs of an evaluation set, so that training data is not
/// made from what a model will later be tested on. Reference files are .txt (text as is) and .json / .jsonl (every
/// string value, e.g. L-Eval's or QuALITY's "input" / "article" fields).
/// </summary>
public static class SelfInstructContamination
{
    /// <summary>Words per shared sequence.</summary>
    public const int DefaultN = 13;

    /// <summary>
    /// For each document that shares at least one n-gram with a file under <paramref name="referenceDirectory"/>: the
    /// reference file it shares most with and how many distinct n-grams.
    /// </summary>
    /// <exception cref="ArgumentException">The folder does not exist or holds no .txt, .json or .jsonl file.</exception>
    public static List<SelfInstructOverlap> Check(IEnumerable<(string Name, string Text)> documents, string referenceDirectory, int n = DefaultN)
    {
        if (!Directory.Exists(referenceDirectory)) throw new ArgumentException($"--contamination-check: folder {referenceDirectory} does not exist");
        var files = Directory.EnumerateFiles(referenceDirectory, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetExtension(f).ToLowerInvariant() is ".txt" or ".json" or ".jsonl").Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0) throw new ArgumentException($"--contamination-check: {referenceDirectory} holds no .txt, .json or .jsonl file");
        var owner = new Dictionary<ulong, int>();
        for (int f = 0; f < files.Count; f++)
            foreach (var text in Texts(files[f]))
                foreach (var h in NGrams(text, n))
                    owner.TryAdd(h, f);
        var result = new List<SelfInstructOverlap>();
        foreach (var (name, text) in documents)
        {
            var counts = new Dictionary<int, int>();
            foreach (var h in NGrams(text, n).Distinct())
                if (owner.TryGetValue(h, out int f)) counts[f] = counts.GetValueOrDefault(f) + 1;
            if (counts.Count == 0) continue;
            var best = counts.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key).First();
            result.Add(new SelfInstructOverlap(name, Path.GetRelativePath(referenceDirectory, files[best.Key]), best.Value));
        }
        return result;
    }

    /// <summary>Hashes of the n-grams of normalized words of <paramref name="text"/>.</summary>
    public static IEnumerable<ulong> NGrams(string text, int n)
    {
        var words = SelfInstructParser.Normalize(text).Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var hashes = words.Select(w =>
        {
            ulong h = 14695981039346656037UL;
            foreach (var c in w) h = (h ^ c) * 1099511628211UL;
            return h;
        }).ToArray();
        for (int i = 0; i + n <= hashes.Length; i++)
        {
            ulong h = 0;
            for (int j = 0; j < n; j++) h = (h * 0x9E3779B97F4A7C15UL) ^ hashes[i + j];
            yield return h;
        }
    }

    private static IEnumerable<string> Texts(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".txt")
        {
            yield return File.ReadAllText(path);
            yield break;
        }
        IEnumerable<string> chunks = ext == ".json" ? [File.ReadAllText(path)] : File.ReadLines(path);
        foreach (var chunk in chunks)
        {
            if (string.IsNullOrWhiteSpace(chunk)) continue;
            JsonNode? node;
            try { node = JsonNode.Parse(chunk); }
            catch (JsonException) { node = null; }
            if (node is null)
            {
                yield return chunk;
                continue;
            }
            foreach (var s in Strings(node)) yield return s;
        }
    }

    private static IEnumerable<string> Strings(JsonNode node)
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (_, v) in o) if (v is not null) foreach (var s in Strings(v)) yield return s;
                break;
            case JsonArray a:
                foreach (var v in a) if (v is not null) foreach (var s in Strings(v)) yield return s;
                break;
            case JsonValue v when v.TryGetValue<string>(out var str):
                yield return str;
                break;
        }
    }
}
