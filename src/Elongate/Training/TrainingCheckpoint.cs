using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Training;

/// <summary>
/// Everything a run needs to continue exactly: the config (RoPE included), the training options, the vocabulary,
/// the fp32 parameters, AdamW's moments and step, the data position (packers and mixture generator, the only
/// randomness after initialization) and how much of metrics.jsonl belongs to the steps taken. One file, written to
/// a temp file and renamed, so a crash (even mid-write) leaves the previous checkpoint whole.
/// Layout (little-endian, <see cref="CheckpointContainer"/>): "ELCK", uint32 version 2, int64 n = JSON length, n bytes of
/// UTF-8 JSON state, int64 p = parameter count, then p floats each of parameters, first moments, second moments, and
/// the checksums of the four sections.
/// </summary>
public sealed class TrainingCheckpoint
{
    /// <summary>File name inside a run folder.</summary>
    public const string FileName = "checkpoint.elck";

    private const uint Magic = 0x4B434C45; // "ELCK"

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public required LlamaConfig Config { get; init; }
    public required TrainerOptions Options { get; init; }
    public TokenVocabulary? Vocabulary { get; init; }

    /// <summary>Optimizer steps completed.</summary>
    public required int Step { get; init; }

    public required float[] Parameters { get; init; }
    public required float[] FirstMoments { get; init; }
    public required float[] SecondMoments { get; init; }
    public required int OptimizerStep { get; init; }
    public required SequencePackerState[] Packers { get; init; }
    public required ulong MixtureState { get; init; }

    /// <summary>Documents and tokens of each source's train.tokens, in pairs, so a resume notices data that changed.</summary>
    public long[] DataSizes { get; init; } = [];

    /// <summary>Bytes of metrics.jsonl written up to this step; a resumed run cuts the file back to it.</summary>
    public long MetricsLength { get; init; }

    public long TokensSeen { get; init; }
    public double ElapsedSeconds { get; init; }

    private static (State State, CheckpointContainer.Layout Layout) ReadState(Stream f, string path)
    {
        var layout = CheckpointContainer.ReadHeader(f, path, Magic, "training");
        var (json, count) = (layout.Json, layout.Count);
        State state;
        try
        {
            state = JsonSerializer.Deserialize<State>(json, Json) ?? throw new ModelFormatException(path, "state is null", CheckpointContainer.HeaderBytes);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"state is not valid: {e.Message}", CheckpointContainer.HeaderBytes, inner: e);
        }
        void Fail(string key, string problem) => throw new ModelFormatException(path, problem, CheckpointContainer.HeaderBytes, key);
        if (state.Version != 1) Fail("version", $"state version {state.Version} is not 1");
        if (state.Config is null) Fail("config", "state has no config");
        if (state.Options is null) Fail("options", "state has no training options");
        state.Config!.Validate(path);
        var c = state.Config;
        // The tensors must be exactly this config's parameters (double is exact at these magnitudes, and cannot overflow).
        double perLayer = 2.0 * c.HiddenSize + (double)c.HiddenSize * c.NumHeads * c.HeadDim * 2 + 2.0 * c.HiddenSize * c.KvDim
            + 3.0 * c.HiddenSize * c.IntermediateSize;
        double want = (double)c.NumLayers * perLayer + c.HiddenSize + (double)c.VocabSize * c.HiddenSize * (c.TieWordEmbeddings ? 1 : 2);
        if (want != count) Fail("config", $"the config has {want} parameters but the file holds {count}");
        var o = state.Options!;
        if (o.Sources is null || o.Sources.Any(x => x is null || x.Name is null || x.Directory is null)) Fail("options.sources", "data sources are missing");
        try
        {
            o.Validate();
        }
        catch (ArgumentException e)
        {
            Fail("options", $"training options are invalid: {e.Message}");
        }
        if (state.Step < 0 || state.OptimizerStep < 0 || state.MetricsLength < 0 || state.TokensSeen < 0)
            Fail("step", "negative step, token or metrics count");
        if (state.Packers is null || state.Packers.Length != o.Sources!.Count || state.Packers.Any(p => p is null || p.Epoch < 0 || p.OrderIndex < 0 || p.Offset < 0))
            Fail("packers", $"need one non-negative data position per source ({o.Sources!.Count})");
        if (state.DataSizes is { } sizes && sizes.Length != 0 && sizes.Length != 2 * o.Sources!.Count) Fail("dataSizes", "need documents and tokens per source");
        if (state.Vocabulary is { } v)
        {
            if (v.Pieces is null || v.Scores is null || v.Types is null || v.Pieces.Any(x => x is null)
                || v.Scores.Length != v.Pieces.Length || v.Types.Length != v.Pieces.Length)
                Fail("vocabulary", "pieces, scores and types must be present and of equal length");
            if (v.Pieces!.Length != c.VocabSize) Fail("vocabulary", $"{v.Pieces.Length} pieces for a vocabulary of {c.VocabSize}");
            foreach (var id in new[] { v.BosId, v.EosId, v.UnkId })
                if ((uint)id >= (uint)c.VocabSize) Fail("vocabulary", $"special token id {id} is outside the vocabulary");
        }
        return (state, layout);
    }

    private sealed record State(int Version, LlamaConfig Config, TrainerOptions Options, TokenVocabulary? Vocabulary, int Step,
        int OptimizerStep, SequencePackerState[] Packers, ulong MixtureState, long MetricsLength, long TokensSeen, double ElapsedSeconds, long[]? DataSizes);

    /// <summary>Writes the checkpoint atomically (temp file + rename).</summary>
    public void Save(string path) => Save(path, null);

    /// <param name="afterParameters">Test hook run after the parameters are written, to simulate a crash mid-write.</param>
    internal void Save(string path, Action? afterParameters) =>
        Write(path, Config, Options, Vocabulary, Step, OptimizerStep, Packers, MixtureState, DataSizes, MetricsLength, TokensSeen, ElapsedSeconds,
            Parameters, FirstMoments, SecondMoments, afterParameters);

    /// <summary>Writes a checkpoint straight from live buffers (no copies of the tensors), atomically.</summary>
    internal static void Write(string path, LlamaConfig config, TrainerOptions options, TokenVocabulary? vocabulary, int step, int optimizerStep,
        SequencePackerState[] packers, ulong mixtureState, long[] dataSizes, long metricsLength, long tokensSeen, double elapsedSeconds,
        ReadOnlyMemory<float> parameters, ReadOnlyMemory<float> firstMoments, ReadOnlyMemory<float> secondMoments, Action? afterParameters)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new State(1, config, options, vocabulary, step, optimizerStep, packers, mixtureState,
            metricsLength, tokensSeen, elapsedSeconds, dataSizes), Json);
        CheckpointContainer.Write(path, Magic, json, parameters, firstMoments, secondMoments, afterParameters);
    }

    /// <summary>The training options of a checkpoint, without reading its tensors.</summary>
    public static TrainerOptions ReadOptions(string path)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return ReadState(f, path).State.Options;
    }

    /// <summary>Reads and validates a checkpoint file.</summary>
    /// <exception cref="ModelFormatException">The file is not a complete, consistent checkpoint.</exception>
    public static TrainingCheckpoint Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "no checkpoint here");
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Load(f, path);
    }

    /// <summary>Reads and validates a checkpoint from a seekable stream; <paramref name="source"/> names it in errors.</summary>
    /// <exception cref="ModelFormatException">The bytes are not a complete, consistent checkpoint.</exception>
    public static TrainingCheckpoint Load(Stream stream, string source)
    {
        var (state, layout) = ReadState(stream, source);
        var (p, m, v) = CheckpointContainer.ReadTensors(stream, layout, source);
        return new TrainingCheckpoint
        {
            Config = state.Config, Options = state.Options, Vocabulary = state.Vocabulary, Step = state.Step,
            Parameters = p, FirstMoments = m, SecondMoments = v, OptimizerStep = state.OptimizerStep,
            Packers = state.Packers, MixtureState = state.MixtureState, MetricsLength = state.MetricsLength,
            TokensSeen = state.TokensSeen, ElapsedSeconds = state.ElapsedSeconds, DataSizes = state.DataSizes ?? [],
        };
    }
}
