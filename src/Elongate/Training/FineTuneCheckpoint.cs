using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Common;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Training;

/// <summary>
/// What a fine-tuning run needs to continue exactly: config, options, vocabulary, step, AdamW's moments and the
/// trainable parameters — every weight for full fine-tuning, only the adapters for LoRA (whose base is reloaded from
/// <see cref="FineTuneOptions.BaseModel"/> and checked against <see cref="State.BaseSha256"/>) — plus hashes of the run's
/// sequence files and how much of metrics.jsonl belongs to the steps taken. The data order needs no state: epoch e's
/// order is a pure function of (seed, e). Written to a temp file and renamed, so a crash leaves the previous one whole.
/// Layout (little-endian): "ELFT", uint32 version 1, int64 n, n bytes of UTF-8 JSON, int64 p, then p floats each of
/// parameters, first moments, second moments.
/// </summary>
public sealed class FineTuneCheckpoint
{
    /// <summary>File name inside a run folder.</summary>
    public const string FileName = "checkpoint.elft";

    private const uint Magic = 0x54464C45; // "ELFT"

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The JSON part of the file.</summary>
    public sealed record State
    {
        public int Version { get; init; } = 1;
        public required LlamaConfig Config { get; init; }
        public required FineTuneOptions Options { get; init; }
        public TokenVocabulary? Vocabulary { get; init; }
        public required int SeqLen { get; init; }
        public required int Step { get; init; }
        public required int OptimizerStep { get; init; }
        public required long MetricsLength { get; init; }
        public required long TokensSeen { get; init; }
        public required double ElapsedSeconds { get; init; }
        public required string SequencesSha256 { get; init; }
        public string? ValidationSha256 { get; init; }
        /// <summary>SHA-256 of the fp32 base parameters (LoRA runs only).</summary>
        public string? BaseSha256 { get; init; }
    }

    public required State Info { get; init; }
    public required float[] Parameters { get; init; }
    public required float[] FirstMoments { get; init; }
    public required float[] SecondMoments { get; init; }

    /// <summary>Writes a checkpoint from live buffers, atomically.</summary>
    internal static void Write(string path, State state, ReadOnlyMemory<float> parameters, ReadOnlyMemory<float> first, ReadOnlyMemory<float> second,
        Action? afterParameters = null) =>
        CheckpointContainer.Write(path, Magic, JsonSerializer.SerializeToUtf8Bytes(state, Json), parameters, first, second, afterParameters);

    /// <summary>Reads the JSON state only (the CLI's --resume needs the options before loading anything else).</summary>
    public static State ReadState(string path)
    {
        using var f = Open(path);
        return ReadHeader(f, path).State;
    }

    /// <summary>Reads and checks a checkpoint.</summary>
    /// <exception cref="ModelFormatException">Missing, truncated or inconsistent.</exception>
    public static FineTuneCheckpoint Load(string path)
    {
        using var f = Open(path);
        var (state, layout) = ReadHeader(f, path);
        var (p, m, v) = CheckpointContainer.ReadTensors(f, layout, path);
        return new FineTuneCheckpoint { Info = state, Parameters = p, FirstMoments = m, SecondMoments = v };
    }

    private static FileStream Open(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException(path, "no fine-tuning checkpoint here");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static (State State, CheckpointContainer.Layout Layout) ReadHeader(Stream f, string path)
    {
        var layout = CheckpointContainer.ReadHeader(f, path, Magic, "fine-tuning");
        var json = layout.Json;
        State? state;
        try
        {
            state = JsonSerializer.Deserialize<State>(json, Json);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(path, $"state is not valid: {e.Message}", CheckpointContainer.HeaderBytes, inner: e);
        }
        if (state is null || state.Config is null || state.Options is null || state.SequencesSha256 is null)
            throw new ModelFormatException(path, "state lacks config, options or data hash", CheckpointContainer.HeaderBytes);
        if (state.Version != 1) throw new ModelFormatException(path, $"state version {state.Version} is not 1", CheckpointContainer.HeaderBytes, "version");
        state.Config.Validate(path);
        try
        {
            state.Options.Validate(state.SeqLen);
        }
        catch (ArgumentException e)
        {
            throw new ModelFormatException(path, $"options are invalid: {e.Message}", CheckpointContainer.HeaderBytes, "options");
        }
        if (state.Step < 0 || state.OptimizerStep < 0 || state.MetricsLength < 0 || state.TokensSeen < 0)
            throw new ModelFormatException(path, "negative step, token or metrics count", CheckpointContainer.HeaderBytes, "step");
        if (state.Options.Lora is not null && state.BaseSha256 is null)
            throw new ModelFormatException(path, "a LoRA checkpoint must record its base model's hash", CheckpointContainer.HeaderBytes, "baseSha256");
        return (state, layout);
    }
}
