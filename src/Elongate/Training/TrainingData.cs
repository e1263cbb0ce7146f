using Elongate.Data;
using Elongate.Formats;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Training;

/// <summary>
/// The training side of the data pipeline: one <see cref="SequencePacker"/> per prepared folder, a
/// <see cref="MixtureSampler"/> choosing the folder of each sequence, and a fixed set of validation windows. Its
/// whole position (packers and mixture generator) is a small value that checkpoints save and restore.
/// </summary>
internal sealed class TrainingData : IDisposable
{
    private readonly TokenShard[] _train;
    private readonly TokenShard?[] _val;
    private readonly SequencePacker[] _packers;
    private readonly MixtureSampler _mixture;
    private readonly int[] _tokens, _segs;
    private readonly bool[] _noLoss;
    private readonly int _seqLen;

    public int VocabSize { get; }
    public TokenVocabulary Vocabulary { get; }
    public IReadOnlyList<CorpusReport> Reports { get; }

    public TrainingData(TrainerOptions options)
    {
        _seqLen = options.SeqLen;
        int n = options.Sources.Count;
        if (options.Sources.Any(s => s.Weight is null) && options.Sources.Any(s => s.Weight is not null))
            throw new ArgumentException("--mix must give a weight for every --data source, or for none");
        var reports = new CorpusReport[n];
        _train = new TokenShard[n];
        _val = new TokenShard?[n];
        _packers = new SequencePacker[n];
        try
        {
            for (int i = 0; i < n; i++)
            {
                var dir = options.Sources[i].Directory;
                reports[i] = CorpusReport.Load(dir);
                if (reports[i].VocabSize != reports[0].VocabSize)
                    throw new ArgumentException($"--data {dir} was tokenized with {reports[i].VocabSize} pieces, {options.Sources[0].Directory} with {reports[0].VocabSize}: sources must share a tokenizer");
                _train[i] = TokenShard.Open(Path.Combine(dir, CorpusPreparer.TrainFile));
                if (_train[i].VocabSize != reports[i].VocabSize)
                    throw new ModelFormatException(_train[i].Path, $"shard vocabulary {_train[i].VocabSize} differs from report.json's {reports[i].VocabSize}");
                if (_train[i].TokenCount < options.SeqLen + 1)
                    throw new ArgumentException($"{_train[i].Path} holds {_train[i].TokenCount} tokens, fewer than one sequence of --seq-len {options.SeqLen} + 1");
                var valPath = Path.Combine(dir, CorpusPreparer.ValidationFile);
                if (File.Exists(valPath))
                {
                    var v = TokenShard.Open(valPath);
                    if (v.TokenCount >= 2) _val[i] = v; else v.Dispose();
                }
                // Each source shuffles with its own seed so adding a source does not reorder the others.
                _packers[i] = new SequencePacker(_train[i], options.SeqLen, options.Seed * 0x9E3779B97F4A7C15UL + (ulong)i,
                    options.UpsampleThreshold, options.UpsampleFactor, options.ShuffleChunkTokens, options.Sources[i].WholeDocuments,
                    options.Sources[i].AnswersOnly ? LossTails.Read(dir, _train[i]) : null);
            }
        }
        catch
        {
            Dispose();
            throw;
        }
        Reports = reports;
        VocabSize = reports[0].VocabSize;
        Vocabulary = reports[0].LoadTokenizer(options.Sources[0].Directory).Vocabulary;
        var weights = options.Sources.Select((s, i) => (s.Name, s.Weight ?? (double)_train[i].TokenCount)).ToArray();
        _mixture = new MixtureSampler(weights, options.Seed ^ 0xD1B54A32D192ED03UL);
        _tokens = new int[_seqLen + 1];
        _segs = new int[_seqLen + 1];
        _noLoss = new bool[_seqLen + 1];
    }

    /// <summary>Documents and tokens of each source's training shard, in pairs.</summary>
    public long[] Sizes => _train.SelectMany(t => new[] { (long)t.DocumentCount, t.TokenCount }).ToArray();

    /// <summary>Packer positions and the mixture generator state.</summary>
    public (SequencePackerState[] Packers, ulong Mixture) State => (_packers.Select(p => p.State).ToArray(), _mixture.State);

    public void Restore(SequencePackerState[] packers, ulong mixture, long[] sizes, string source)
    {
        if (sizes.Length > 0 && !sizes.SequenceEqual(Sizes))
            throw new ArgumentException($"the training data changed since {source} was written (documents/tokens per source were {string.Join(" ", sizes)}, now {string.Join(" ", Sizes)}): the run cannot continue exactly");
        if (packers.Length != _packers.Length)
            throw new ModelFormatException(source, $"checkpoint has {packers.Length} data positions for {_packers.Length} sources", key: "packers");
        for (int i = 0; i < packers.Length; i++) _packers[i].Restore(packers[i]);
        _mixture.State = mixture;
    }

    /// <summary>
    /// Fills B sequences: inputs are tokens [0, T), targets [1, T] (the ignore index where a whole-document source
    /// padded the sequence), segments the inputs' document ids.
    /// </summary>
    public void NextBatch(int batch, Span<int> inputs, Span<int> targets, Span<int> segments)
    {
        int T = _seqLen;
        for (int b = 0; b < batch; b++)
        {
            _packers[_mixture.Next()].Next(_tokens, _segs, _noLoss);
            _tokens.AsSpan(0, T).CopyTo(inputs.Slice(b * T, T));
            _tokens.AsSpan(1, T).CopyTo(targets.Slice(b * T, T));
            // Token i + 1 is target i: padding, and tokens before an answers-only document's answer, get no loss.
            for (int t = 0; t < T; t++)
                if (_noLoss[t + 1]) targets[b * T + t] = CrossEntropy.DefaultIgnoreIndex;
            _segs.AsSpan(0, T).CopyTo(segments.Slice(b * T, T));
        }
    }

    /// <summary>
    /// Moves past the next <paramref name="batch"/> sequences without handing them out: what a data-parallel rank does
    /// with the other ranks' share of a step, so every rank's stream stays at the single-process position. The packer's
    /// position depends on document boundaries, so the tokens are read (into a scratch buffer) and dropped.
    /// </summary>
    public void SkipBatch(int batch)
    {
        for (int b = 0; b < batch; b++) _packers[_mixture.Next()].Next(_tokens, _segs);
    }

    /// <summary>
    /// The fixed validation windows: up to <paramref name="perSource"/> from each source's val.tokens, read by a
    /// packer with a constant seed, so every evaluation (and every resumed run) scores the same tokens.
    /// </summary>
    public List<(int[] Tokens, int[] Segments)> ValidationWindows(int perSource)
    {
        var windows = new List<(int[], int[])>();
        foreach (var v in _val)
        {
            if (v is null) continue;
            long fit = Math.Max(1, (v.TokenCount - 1) / _seqLen);
            var packer = new SequencePacker(v, _seqLen, seed: 0x5EED);
            for (long w = 0; w < Math.Min(perSource, fit); w++)
            {
                var t = new int[_seqLen + 1];
                var s = new int[_seqLen + 1];
                packer.Next(t, s);
                windows.Add((t, s));
            }
        }
        return windows;
    }

    public void Dispose()
    {
        foreach (var s in _train) s?.Dispose();
        foreach (var s in _val) s?.Dispose();
    }
}
