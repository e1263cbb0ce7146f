using System.Text.Json;
using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>
/// Per document of a prepared folder's train.tokens, how many of its last tokens carry loss (the answer and EOS):
/// the file <see cref="FileName"/> beside the shard. A training source marked answers-only reads it, and every
/// target before a document's tail is ignored.
/// </summary>
/// <remarks>
/// Why: a synthetic retrieval document is mostly filler; with loss on every token its one five-digit answer is a
/// fraction of a percent of a step's loss, and a small model trained for minutes never learns to copy it (measured:
/// 0 % of passkeys after 1,000 steps of pure retrieval documents). With loss on the answers only, the same model
/// learns to copy within a few hundred steps, as instruction tuning with loss on the answers does.
/// </remarks>
public static class LossTails
{
    /// <summary>The file's name in the prepared folder: a JSON array of one non-negative integer per training document.</summary>
    public const string FileName = "loss-tails.json";

    /// <summary>Writes the tails of <paramref name="directory"/>'s documents atomically.</summary>
    public static void Write(string directory, IReadOnlyList<int> tails) =>
        AtomicFile.WriteAllText(Path.Combine(directory, FileName), JsonSerializer.Serialize(tails));

    /// <summary>Reads and checks the tails against the shard they describe (one per document, each within its document).</summary>
    /// <exception cref="ModelFormatException">The file is missing, malformed, or does not match the shard.</exception>
    public static int[] Read(string directory, TokenShard shard)
    {
        var path = Path.Combine(directory, FileName);
        if (!File.Exists(path)) throw new ModelFormatException(path, "missing: an answers-only training source needs the loss tail of every document");
        int[]? tails;
        try { tails = JsonSerializer.Deserialize<int[]>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new ModelFormatException(path, $"not a JSON array of integers: {e.Message}"); }
        if (tails is null || tails.Length != shard.DocumentCount)
            throw new ModelFormatException(path, $"holds {tails?.Length ?? 0} tails for the {shard.DocumentCount} documents of {shard.Path}");
        for (int i = 0; i < tails.Length; i++)
            if (tails[i] < 0 || tails[i] > shard.DocumentLength(i))
                throw new ModelFormatException(path, $"document {i}: tail {tails[i]} is outside its {shard.DocumentLength(i)} tokens");
        return tails;
    }

    /// <summary>
    /// The tails of retrieval documents (<see cref="RetrievalDocuments.WriteJsonl"/>'s lines, each ending in its
    /// answer) as <see cref="CorpusPreparer"/> tokenized them (BOS and EOS added): the tokens after the longest prefix
    /// that the text before the answer encodes to. Checks each document's length against <paramref name="shard"/>, so
    /// a folder prepared from other lines or in another order is refused.
    /// </summary>
    public static int[] FromRetrievalJsonl(string jsonl, ITokenizer tokenizer, TokenShard shard)
    {
        var tails = new List<int>();
        int line = 0;
        foreach (var text in File.ReadLines(jsonl))
        {
            line++;
            if (text.Length == 0) continue;
            using var doc = JsonDocument.Parse(text);
            string body = doc.RootElement.GetProperty("text").GetString() ?? "", answer = doc.RootElement.GetProperty("answer").GetString() ?? "";
            int i = tails.Count;
            var ids = tokenizer.Encode(body, addBos: true, addEos: true);
            if (i >= shard.DocumentCount || ids.Length != shard.DocumentLength(i))
                throw new ArgumentException($"{jsonl}:{line}: does not match document {i} of {shard.Path} (prepared from other lines?)");
            int at = body.LastIndexOf(answer, StringComparison.Ordinal);
            if (answer.Length == 0 || at < 0) throw new ArgumentException($"{jsonl}:{line}: the answer is not in the text");
            var prefix = tokenizer.Encode(body[..at].TrimEnd(), addBos: true, addEos: false);
            int common = 0;
            while (common < prefix.Length && common < ids.Length && prefix[common] == ids[common]) common++;
            tails.Add(ids.Length - common);
        }
        if (tails.Count != shard.DocumentCount) throw new ArgumentException($"{jsonl} holds {tails.Count} documents, {shard.Path} {shard.DocumentCount}");
        return [.. tails];
    }
}
