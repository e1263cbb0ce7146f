using System.Text.Encodings.Web;
using System.Text.Json;
using Elongate.Common;

namespace Elongate.Data;

/// <summary>
/// Combines instruction sources into one fine-tuning set (`elongate data chat-mix`): each source contributes its
/// weight's share of the output, the examples are written in a seeded random order as chat-format JSON Lines
/// (<c>{"messages":[{"role":…,"content":…}…],"source":"file:line"}</c>, whatever format they were read in), and a report
/// with per-source counts — and token lengths, given a tokenizer — goes beside the output as FILE.report.json.
/// </summary>
/// <remarks>
/// <para><b>Weights.</b> Shares of the output: with weights 3 and 1 a quarter of the examples come from the second
/// source. Without weights every source weighs as many examples as it holds, so the mix is the sources together. The
/// output holds <see cref="ChatMixOptions.Total"/> examples, or by default as many as all the sources together; each
/// source's count is its share rounded by largest remainder, so the counts add up exactly.</para>
/// <para><b>Sampling.</b> A source asked for fewer examples than it holds gives a seeded random subset (without
/// replacement); one asked for more gives every example once per whole pass, and a random subset for the rest — so an
/// upsampled source repeats its examples as evenly as possible rather than by chance. The same sources, weights, total
/// and seed always give the same file.</para>
/// <para>Every example of every source is read (an invalid line stops the mix with its file and line) and held in
/// memory; instruction sets fit easily. Both outputs are written atomically.</para>
/// </remarks>
public static class ChatMixer
{
    /// <summary>Where the report of a mix written to <paramref name="outputPath"/> goes: FILE.jsonl → FILE.report.json.</summary>
    public static string ReportPathFor(string outputPath) => Path.ChangeExtension(outputPath, ".report.json");

    /// <summary>Reads the sources, writes the mix and its report, and returns the report.</summary>
    /// <exception cref="InstructionDataException">A source has an invalid line, or (with a tokenizer) an example the
    /// template cannot render.</exception>
    /// <exception cref="ArgumentException">Bad options: no source, weights on some sources only, all weights 0, a
    /// weighted source with no examples, a total below 1.</exception>
    public static ChatMixReport Mix(ChatMixOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sources = options.Sources;
        if (sources.Count == 0) throw new ArgumentException("chat-mix needs at least one --source");
        bool weighted = sources[0].Weight is not null;
        if (sources.Any(s => (s.Weight is not null) != weighted))
            throw new ArgumentException("give a weight to every --source (FILE:WEIGHT) or to none");
        if (options.Total is < 1) throw new ArgumentException($"--total must be at least 1 (got {options.Total})");
        if ((options.Tokenizer is null) != (options.Template is null))
            throw new ArgumentException("token lengths need both a tokenizer and a chat template");

        var examples = sources.Select(s => InstructionReader.Read(s.Path).ToList()).ToArray();
        var weights = sources.Select((s, i) => s.Weight ?? examples[i].Count).ToArray();
        double weightSum = weights.Sum();
        if (!(weightSum > 0))
            throw new ArgumentException(weighted ? "the --source weights must not all be 0" : "the sources hold no examples");
        int total = options.Total ?? examples.Sum(e => e.Count);
        var shares = weights.Select(w => w / weightSum).ToArray();
        var quotas = Apportion(total, shares);
        for (int i = 0; i < sources.Count; i++)
            if (quotas[i] > 0 && examples[i].Count == 0)
                throw new ArgumentException($"--source {sources[i].Path} has no examples but its weight asks for {quotas[i]}");

        var rng = new SplitMix64(options.Seed);
        var picks = new List<(int Source, int Index)>(total);
        var distinct = new int[sources.Count];
        for (int s = 0; s < sources.Count; s++)
        {
            int count = examples[s].Count, quota = quotas[s];
            if (count == 0) continue;
            for (int pass = 0; pass < quota / count; pass++)
                for (int i = 0; i < count; i++) picks.Add((s, i));
            // The rest: the first (quota mod count) of a seeded shuffle of the source.
            var order = Enumerable.Range(0, count).ToArray();
            rng.Shuffle(order.AsSpan());
            foreach (var i in order.AsSpan(0, quota % count)) picks.Add((s, i));
            distinct[s] = Math.Min(quota, count);
        }
        var shuffled = picks.ToArray();
        rng.Shuffle(shuffled.AsSpan());

        var output = Path.GetFullPath(options.OutputPath);
        AtomicFile.Write(output, stream => WriteJsonLines(stream, shuffled.Select(p => examples[p.Source][p.Index])));

        LengthReport? overall = null;
        var perSource = new List<int>[sources.Count];
        if (options.Tokenizer is { } tokenizer && options.Template is { } template)
        {
            var cache = new Dictionary<(int, int), int>();
            for (int s = 0; s < sources.Count; s++) perSource[s] = [];
            var all = new List<int>(shuffled.Length);
            foreach (var p in picks)
            {
                if (!cache.TryGetValue(p, out var n))
                    cache[p] = n = InstructionRenderer.Tokenize(examples[p.Source][p.Index], tokenizer, template).Length;
                perSource[p.Source].Add(n);
                all.Add(n);
            }
            overall = LengthReport.From(all);
        }
        var report = new ChatMixReport
        {
            Output = output, Seed = options.Seed, Examples = shuffled.Length,
            Tokenizer = options.Tokenizer is null ? null : options.TokenizerPath is { } tp ? Path.GetFullPath(tp) : options.Tokenizer.Implementation,
            ChatTemplate = options.Template?.Name,
            Sources = [.. sources.Select((s, i) => new ChatMixSourceReport(Path.GetFullPath(s.Path), s.Weight, shares[i], examples[i].Count, quotas[i],
                distinct[i], shuffled.Length == 0 ? 0 : (double)quotas[i] / shuffled.Length, perSource[i] is { } l ? LengthReport.From(l) : null))],
            Lengths = overall,
        };
        report.Save(ReportPathFor(output));
        return report;
    }

    /// <summary>
    /// <paramref name="total"/> split by <paramref name="shares"/> (summing to 1): floors, then one more to the largest
    /// remainders (ties to the earlier source), so the parts add up to the total.
    /// </summary>
    public static int[] Apportion(int total, IReadOnlyList<double> shares)
    {
        ArgumentNullException.ThrowIfNull(shares);
        var parts = new int[shares.Count];
        var remainders = new (double Remainder, int Index)[shares.Count];
        long given = 0;
        for (int i = 0; i < shares.Count; i++)
        {
            double exact = total * shares[i];
            parts[i] = (int)Math.Floor(exact);
            remainders[i] = (exact - parts[i], i);
            given += parts[i];
        }
        foreach (var (_, i) in remainders.OrderByDescending(r => r.Remainder).ThenBy(r => r.Index).Take((int)Math.Max(0, total - given)))
            parts[i]++;
        return parts;
    }

    /// <summary>One chat-format JSON object per line; non-ASCII text is written as is (the file is UTF-8), not escaped.</summary>
    private static void WriteJsonLines(Stream stream, IEnumerable<InstructionExample> examples)
    {
        var writerOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, Indented = false };
        using var writer = new Utf8JsonWriter(stream, writerOptions);
        foreach (var e in examples)
        {
            writer.WriteStartObject();
            writer.WriteStartArray("messages");
            foreach (var m in e.Messages)
            {
                writer.WriteStartObject();
                writer.WriteString("role", m.Role);
                writer.WriteString("content", m.Content);
                writer.WriteEndObject();
            }
            writer.WriteEndArray();
            writer.WriteString("source", e.Id);
            writer.WriteEndObject();
            writer.Flush();
            stream.WriteByte((byte)'\n');
            writer.Reset(); // a writer takes one root value; each line is a new one
        }
    }
}
