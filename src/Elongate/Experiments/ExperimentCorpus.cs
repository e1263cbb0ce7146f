using Elongate.Data;
using Elongate.Tokenization;

namespace Elongate.Experiments;

/// <summary>
/// Raw texts of the corpus the experiments train on, split as <see cref="RopeAblation.PrepareData"/> splits them
/// (the named held-out files, else the last ones in ordinal name order; the synthetic corpus's documents by index),
/// and the retrieval mix built from the training texts.
/// </summary>
internal static class ExperimentCorpus
{
    /// <summary>Training texts, held-out texts and the corpus's name.</summary>
    public static (List<string> Train, List<string> HeldOut, string Name) Texts(RopeAblationOptions o)
    {
        if (o.CorpusDirectory is { } corpus)
        {
            var files = Directory.GetFiles(corpus, "*.txt").Order(StringComparer.Ordinal).ToArray();
            if (files.Length < 2) throw new ArgumentException($"--corpus {corpus} needs at least two .txt files (training and held-out)");
            var val = (o.ValidationDocuments ?? files.TakeLast(Math.Min(o.ValidationCount, files.Length - 1)).Select(f => Path.GetFileName(f)!)).ToHashSet(StringComparer.Ordinal);
            foreach (var v in val)
                if (!File.Exists(Path.Combine(corpus, v))) throw new ArgumentException($"--val-docs {v} is not a .txt file in {corpus}");
            return (files.Where(f => !val.Contains(Path.GetFileName(f))).Select(File.ReadAllText).ToList(),
                files.Where(f => val.Contains(Path.GetFileName(f))).Select(File.ReadAllText).ToList(), Path.GetFullPath(corpus));
        }
        var synthetic = new SyntheticCorpus(o.Seed);
        return (Enumerable.Range(0, o.SyntheticTrainDocuments).Select(i => synthetic.Document(i, o.SyntheticWords)).ToList(),
            Enumerable.Range(o.SyntheticTrainDocuments, o.SyntheticValidationDocuments).Select(i => synthetic.Document(i, o.SyntheticWords)).ToList(),
            $"built-in synthetic corpus (seed {o.Seed})");
    }

    /// <summary>
    /// The retrieval mix (<see cref="RetrievalDocuments"/>: passkeys, key→value lookups, repeated passages,
    /// first-sentence questions, with book-sentence filler from the training texts only) prepared as a data source of
    /// about <paramref name="tokens"/> tokens, documents up to <paramref name="maxLength"/> tokens.
    /// </summary>
    public static string PrepareRetrieval(IReadOnlyList<string> trainTexts, string tokenizerPath, ITokenizer tokenizer, int maxLength, long tokens, ulong seed,
        string dataDir, Action<string> log)
    {
        var sentences = trainTexts.SelectMany(t => RetrievalDocuments.SentencesFrom(t)).ToList();
        if (sentences.Count < 8) throw new ArgumentException("the training texts have too few sentences to fill retrieval documents");
        var generator = new RetrievalDocuments(sentences, new RetrievalDocumentOptions { Seed = seed, MaxLength = maxLength }, tokenizer);
        int count = Math.Max(8, generator.CountFor(tokens));
        var prepared = Path.Combine(dataDir, "retrieval");
        long units = WriteRetrievalSource(generator, count, prepared, tokenizerPath, tokenizer, seed);
        log($"retrieval mix: {count} documents ({units} tokens) of passkeys, key→value lookups, repeated passages and first-sentence questions, up to {maxLength} tokens");
        return prepared;
    }

    /// <summary>
    /// Writes documents 0 … count − 1 of <paramref name="generator"/> to <c>{prepared}.jsonl</c>, prepares them into
    /// <paramref name="prepared"/> (no validation split) and writes each document's answer tail beside the shard
    /// (<see cref="LossTails"/>), so the source can train with loss on the answers only. Returns the documents' length
    /// in the generator's units.
    /// </summary>
    public static long WriteRetrievalSource(RetrievalDocuments generator, int count, string prepared, string tokenizerPath, ITokenizer tokenizer, ulong seed)
    {
        var jsonl = prepared + ".jsonl";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(prepared))!);
        long units = generator.WriteJsonl(jsonl, count);
        CorpusPreparer.Prepare(new CorpusPrepareOptions { TokenizerPath = tokenizerPath, Inputs = [jsonl], OutputDirectory = prepared, ValidationFraction = 0, Seed = seed });
        using var shard = TokenShard.Open(Path.Combine(prepared, CorpusPreparer.TrainFile));
        LossTails.Write(prepared, LossTails.FromRetrievalJsonl(jsonl, tokenizer, shard));
        return units;
    }
}
