using System.Text;
using System.Text.Json;
using Elongate.Tokenization;
using Elongate.Common;
using Elongate.Formats;

namespace Elongate.Data;

/// <summary>
/// `elongate data prepare`: tokenizes text files into a training shard and a validation shard. A .txt file is one
/// document (a book is a document); a .jsonl file holds one document per line in its "text" field. Every document is
/// framed by BOS and EOS. Only one document is in memory at a time: tokens stream into <see cref="TokenShardWriter"/>s,
/// so a corpus larger than RAM works. The validation split is by whole document, either by a seeded hash of the
/// document's name (<see cref="DocumentSplit"/>) or by an explicit list of names.
/// </summary>
public static class CorpusPreparer
{
    /// <summary>Name of the training shard inside the output folder.</summary>
    public const string TrainFile = "train.tokens";

    /// <summary>Name of the validation shard inside the output folder.</summary>
    public const string ValidationFile = "val.tokens";

    /// <summary>
    /// Runs the preparation and writes train.tokens, val.tokens, report.json and a copy of the tokenizer file.
    /// Both shards appear together or not at all (each is renamed into place only after every input was read).
    /// </summary>
    /// <param name="progress">Called after each document with the bytes read so far (for MB/s and ETA).</param>
    /// <exception cref="ModelFormatException">An input is unreadable or a .jsonl line is not a JSON object with a string "text".</exception>
    public static CorpusReport Prepare(CorpusPrepareOptions options, Action<CorpusProgress>? progress = null)
    {
        options.Validate();
        var tokenizer = TokenizerLoader.Load(options.TokenizerPath);
        int vocab = tokenizer.Vocabulary.Count;
        var outDir = Path.GetFullPath(options.OutputDirectory);
        Directory.CreateDirectory(outDir);
        var inputs = options.ExpandedInputs();
        foreach (var f in inputs)
            if (!File.Exists(f)) throw new ModelFormatException(f, "no such input file");
        long totalBytes = inputs.Sum(f => new FileInfo(f).Length);
        var valNames = options.ValidationDocuments is { Count: > 0 } names ? new HashSet<string>(names, StringComparer.Ordinal) : null;

        var trainLengths = new List<int>();
        var valLengths = new List<int>();
        var sources = new List<CorpusSourceStats>();
        long bytesBefore = 0;
        var matched = new HashSet<string>(StringComparer.Ordinal);
        using var train = new TokenShardWriter(Path.Combine(outDir, TrainFile), vocab);
        using var val = new TokenShardWriter(Path.Combine(outDir, ValidationFile), vocab);
        for (int fi = 0; fi < inputs.Length; fi++)
        {
            var file = inputs[fi];
            var fileName = Path.GetFileName(file);
            long fileBytes = new FileInfo(file).Length;
            long docs = 0, tokens = 0, trainDocs = 0, valDocs = 0, skipped = 0;
            progress?.Invoke(new CorpusProgress(fi, inputs.Length, file, bytesBefore, totalBytes));
            foreach (var (name, text, bytesRead) in ReadDocuments(file))
            {
                if (text.Length == 0) { skipped++; continue; }
                var ids = tokenizer.Encode(text, addBos: true, addEos: true);
                if (ids.Length < options.MinDocumentTokens) { skipped++; continue; }
                bool isVal;
                if (valNames is not null)
                {
                    isVal = false;
                    if (valNames.Contains(name)) { isVal = true; matched.Add(name); }
                    if (valNames.Contains(fileName)) { isVal = true; matched.Add(fileName); }
                }
                else isVal = DocumentSplit.IsValidation(name, options.ValidationFraction, options.Seed);
                if (isVal) { val.Add(ids); valLengths.Add(ids.Length); valDocs++; }
                else { train.Add(ids); trainLengths.Add(ids.Length); trainDocs++; }
                docs++;
                tokens += ids.Length;
                progress?.Invoke(new CorpusProgress(fi, inputs.Length, file, bytesBefore + bytesRead, totalBytes));
            }
            bytesBefore += fileBytes;
            var stats = new CorpusSourceStats(file, fileBytes, docs, tokens, trainDocs, valDocs, skipped);
            sources.Add(stats);
            progress?.Invoke(new CorpusProgress(fi, inputs.Length, file, bytesBefore, totalBytes, FileDone: true, stats));
        }

        if (valNames is not null && valNames.Except(matched).ToArray() is { Length: > 0 } unmatched)
            throw new ArgumentException($"--val-docs names no document: {string.Join(", ", unmatched)} (a .txt file's name, a .jsonl file's name, or file.jsonl:ID / file.jsonl:LINE)");

        // The tokenizer travels with the data (unless it is a whole GGUF model), so training finds it even if the
        // original moves; report.json keeps the original path too.
        string tokenizerPath = Path.GetFullPath(options.TokenizerPath);
        string? copy = null;
        if (TokenizerFileKindOf(tokenizerPath) != TokenizerFileKind.Gguf)
        {
            copy = "tokenizer" + Path.GetExtension(tokenizerPath);
            var bytes = File.ReadAllBytes(tokenizerPath);
            AtomicFile.Write(Path.Combine(outDir, copy), s => s.Write(bytes));
        }
        var report = new CorpusReport
        {
            Tokenizer = tokenizerPath, TokenizerCopy = copy, VocabSize = vocab,
            BosId = tokenizer.Vocabulary.BosId, EosId = tokenizer.Vocabulary.EosId,
            ValidationFraction = valNames is null ? options.ValidationFraction : null,
            ValidationDocuments = valNames?.Order(StringComparer.Ordinal).ToArray(),
            Seed = options.Seed, MinDocumentTokens = options.MinDocumentTokens,
            Train = LengthReport.From(trainLengths), Validation = LengthReport.From(valLengths), Sources = sources,
        };
        train.Complete();
        val.Complete();
        report.Save(outDir);
        return report;
    }

    /// <summary>
    /// Learns a byte-fallback BPE vocabulary of <paramref name="vocabSize"/> pieces (<see cref="BpeTrainer"/>) from the
    /// documents of <paramref name="inputs"/> (files or folders, read like <see cref="Prepare"/>), leaving out the
    /// documents named in <paramref name="exclude"/> (so held-out books do not shape the vocabulary), and writes it
    /// atomically as a llama2.c tokenizer.bin, which `data prepare`, training and the GGUF export read.
    /// </summary>
    public static TokenVocabulary LearnTokenizer(IReadOnlyList<string> inputs, IReadOnlyCollection<string>? exclude, int vocabSize, string outputPath,
        Action<int, int>? progress = null)
    {
        if (inputs.Count == 0) throw new ArgumentException("data tokenizer needs at least one --input file");
        var files = CorpusPrepareOptions.ExpandInputs(inputs);
        foreach (var f in files)
            if (!File.Exists(f)) throw new ModelFormatException(f, "no such input file");
        var skip = new HashSet<string>(exclude ?? [], StringComparer.Ordinal);
        var matched = new HashSet<string>(StringComparer.Ordinal);
        // A whole-file name that matches no input is known before any text is read: say so before learning for minutes.
        var fileNames = files.Select(f => Path.GetFileName(f)).ToHashSet(StringComparer.Ordinal);
        if (skip.Where(n => !n.Contains(':') && !fileNames.Contains(n)).ToArray() is { Length: > 0 } missing)
            throw new ArgumentException($"--exclude names no input file: {string.Join(", ", missing)} (a .txt file's name, a .jsonl file's name, or file.jsonl:ID / file.jsonl:LINE)");
        IEnumerable<string> Documents()
        {
            foreach (var file in files)
            {
                var fileName = Path.GetFileName(file);
                if (skip.Contains(fileName)) { matched.Add(fileName); continue; }
                foreach (var (name, text, _) in ReadDocuments(file))
                {
                    if (skip.Contains(name)) { matched.Add(name); continue; }
                    yield return text;
                }
            }
        }
        var vocabulary = BpeTrainer.Train(Documents(), vocabSize, progress);
        if (skip.Except(matched).ToArray() is { Length: > 0 } unmatched)
            throw new ArgumentException($"--exclude names no document: {string.Join(", ", unmatched)} (a .txt file's name, a .jsonl file's name, or file.jsonl:ID / file.jsonl:LINE)");
        BpeTrainer.WriteLlama2cBin(vocabulary, outputPath);
        return vocabulary;
    }

    private static TokenizerFileKind TokenizerFileKindOf(string path)
    {
        var head = new byte[16];
        using var f = File.OpenRead(path);
        int n = f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        return TokenizerLoader.Detect(head.AsSpan(0, n));
    }

    /// <summary>
    /// The documents of one input with a name for the split and the bytes consumed so far. Windows line ends become
    /// "\n" so a book reads the same whichever system it was saved on.
    /// </summary>
    internal static IEnumerable<(string Name, string Text, long BytesRead)> ReadDocuments(string file)
    {
        var fileName = Path.GetFileName(file);
        if (file.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            using var reader = new StreamReader(stream, Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
            int lineNumber = 0;
            while (reader.ReadLine() is { } line)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                yield return ParseJsonLine(file, fileName, line, lineNumber, stream.Position);
            }
            yield break;
        }
        string text;
        try
        {
            text = File.ReadAllText(file, Encoding.UTF8);
        }
        catch (IOException e)
        {
            throw new ModelFormatException(file, $"cannot read file: {e.Message}", inner: e);
        }
        yield return (fileName, NormalizeNewlines(text), new FileInfo(file).Length);
    }

    private static (string Name, string Text, long BytesRead) ParseJsonLine(string file, string fileName, string line, int lineNumber, long position)
    {
        string key = $"line {lineNumber}";
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(line);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(file, $"line {lineNumber} is not valid JSON: {e.Message}", key: key);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new ModelFormatException(file, $"line {lineNumber} is a JSON {doc.RootElement.ValueKind}, not an object with a \"text\" field", key: key);
            if (!doc.RootElement.TryGetProperty("text", out var text) || text.ValueKind != JsonValueKind.String)
                throw new ModelFormatException(file, $"line {lineNumber} has no string \"text\" field", key: key);
            // An "id" names the document for --val-docs; otherwise the file and line do.
            string name = doc.RootElement.TryGetProperty("id", out var id) && id.ValueKind is JsonValueKind.String or JsonValueKind.Number
                ? $"{fileName}:{id}" : $"{fileName}:{lineNumber}";
            return (name, NormalizeNewlines(text.GetString()!), position);
        }
    }

    private static string NormalizeNewlines(string s) => s.Contains('\r') ? s.Replace("\r\n", "\n").Replace('\r', '\n') : s;
}
