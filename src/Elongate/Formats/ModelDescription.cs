using System.Globalization;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Formats;

/// <summary>One tensor as a file stores it.</summary>
public sealed record TensorSummary(string Name, string Shape, string Type);

/// <summary>Where a setting's value came from.</summary>
public enum SettingSource
{
    /// <summary>The model file states it.</summary>
    File,
    /// <summary>The file is silent and the format's default applies (e.g. RoPE base 10,000).</summary>
    Default,
    /// <summary>A command-line option overrode it.</summary>
    CommandLine,
}

/// <summary>
/// What `elongate info` prints: a file's format, hyper-parameters, tensors as stored, raw metadata, vocabulary, and
/// for each RoPE setting whether the file gave it or a default filled in. Built from headers only (no weights are
/// dequantized for GGUF and safetensors).
/// </summary>
public sealed record ModelDescription
{
    public required ModelFileFormat Format { get; init; }
    public required string Source { get; init; }
    /// <summary>The file's architecture name (GGUF general.architecture; "llama" for the other formats).</summary>
    public string Architecture { get; init; } = "llama";
    /// <summary>The Llama hyper-parameters; null when the architecture is not one Elongate runs.</summary>
    public required LlamaConfig? Config { get; init; }
    /// <summary>Why Elongate cannot run this file as a model (another architecture, or a vocabulary-only file); null when it can.</summary>
    public string? CannotRun { get; init; }
    /// <summary>Why the embedded vocabulary cannot be used (e.g. an unknown pre-tokenizer), when it cannot.</summary>
    public string? VocabularyError { get; init; }
    public required IReadOnlyList<TensorSummary> Tensors { get; init; }
    /// <summary>Metadata keys and values as text (GGUF keys, config.json entries); empty for llama2.c.</summary>
    public required IReadOnlyList<KeyValuePair<string, string>> Metadata { get; init; }
    /// <summary>Source of each RoPE setting: base, rotary_dim, scaling.</summary>
    public required IReadOnlyDictionary<string, SettingSource> RopeSources { get; init; }
    public TokenVocabulary? Vocabulary { get; init; }

    /// <summary>Reads the description of the model at <paramref name="path"/>.</summary>
    public static ModelDescription Describe(string path) => ModelLoader.Detect(path) switch
    {
        ModelFileFormat.Gguf => DescribeGguf(path),
        ModelFileFormat.HuggingFace => DescribeHf(path),
        _ => DescribeLlama2c(path),
    };

    private static SettingSource Given(bool inFile) => inFile ? SettingSource.File : SettingSource.Default;

    private static ModelDescription DescribeGguf(string path)
    {
        using var file = GgufFile.Open(path);
        // Any GGUF is described, whatever its architecture: its metadata and vocabulary are still useful (tokenize
        // works with llama.cpp's vocabulary-only files), and the description says what Elongate cannot do with it.
        var arch = file.TryGetValue("general.architecture", out var a) && a is string name ? name : "(none)";
        LlamaConfig? config = null;
        string? cannotRun = null;
        if (arch == "llama") config = GgufModelLoader.ReadConfig(file);
        else cannotRun = $"architecture '{arch}' is not one Elongate runs (only 'llama')";
        if (cannotRun is null && file.Tensors.Count == 0) cannotRun = "vocabulary-only file: it has no tensors";
        TokenVocabulary? vocabulary = null;
        string? vocabularyError = null;
        if (GgufVocabularyReader.HasVocabulary(file))
        {
            try
            {
                vocabulary = GgufVocabularyReader.Read(file);
            }
            catch (Elongate.Common.ModelFormatException e)
            {
                vocabularyError = e.Message;
            }
        }
        else if (file.TryGetValue("tokenizer.ggml.model", out var kind))
            vocabularyError = $"tokenizer '{kind}' is not one Elongate reads (SentencePiece 'llama' or byte-level BPE 'gpt2')";
        return new ModelDescription
        {
            Format = ModelFileFormat.Gguf,
            Source = path,
            Architecture = arch,
            Config = config,
            CannotRun = cannotRun,
            Tensors = file.Tensors.Select(t => new TensorSummary(t.Name, t.ShapeString, t.Type.ToString())).ToArray(),
            Metadata = file.Metadata.Select(m => new KeyValuePair<string, string>(m.Key, m.ValueToString())).ToArray(),
            RopeSources = new Dictionary<string, SettingSource>
            {
                ["base"] = Given(file.ContainsKey("llama.rope.freq_base")),
                ["rotary_dim"] = Given(file.ContainsKey("llama.rope.dimension_count")),
                ["scaling"] = Given(file.Metadata.Any(m => m.Key.StartsWith("llama.rope.scaling.", StringComparison.Ordinal)) || file.TensorsByName.ContainsKey("rope_freqs.weight")),
            },
            Vocabulary = vocabulary,
            VocabularyError = vocabularyError,
        };
    }

    private static ModelDescription DescribeHf(string path)
    {
        var (configPath, weightsPath) = HfModelLoader.Resolve(path);
        var hf = HfConfig.Load(configPath);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllBytes(configPath))!.AsObject();
        using var ckpt = SafetensorsCheckpoint.Open(weightsPath);
        return new ModelDescription
        {
            Format = ModelFileFormat.HuggingFace,
            Source = configPath,
            Config = hf.Model,
            Tensors = ckpt.Names.Order(StringComparer.Ordinal).Select(n => ckpt.GetInfo(n)).Select(i => new TensorSummary(i.Name, i.ShapeText, i.Dtype.ToString())).ToArray(),
            Metadata = json.Select(kv => new KeyValuePair<string, string>(kv.Key, kv.Value?.ToJsonString() ?? "null")).ToArray(),
            RopeSources = new Dictionary<string, SettingSource>
            {
                ["base"] = Given(json.ContainsKey("rope_theta")),
                ["rotary_dim"] = Given(json.ContainsKey("partial_rotary_factor")),
                ["scaling"] = Given(json["rope_scaling"] is not null),
            },
        };
    }

    private static ModelDescription DescribeLlama2c(string path)
    {
        var model = Llama2cCheckpoint.Read(path);
        var c = model.Config;
        string S(params long[] dims) => "[" + string.Join(", ", dims.Select(d => d.ToString(CultureInfo.InvariantCulture))) + "]";
        int q = c.NumHeads * c.HeadDim;
        var tensors = new List<TensorSummary> { new("token_embedding_table", S(c.VocabSize, c.HiddenSize), "F32") };
        foreach (var (name, shape) in new (string, string)[]
        {
            ("rms_att_weight", S(c.NumLayers, c.HiddenSize)), ("wq", S(c.NumLayers, q, c.HiddenSize)), ("wk", S(c.NumLayers, c.KvDim, c.HiddenSize)),
            ("wv", S(c.NumLayers, c.KvDim, c.HiddenSize)), ("wo", S(c.NumLayers, c.HiddenSize, q)), ("rms_ffn_weight", S(c.NumLayers, c.HiddenSize)),
            ("w1", S(c.NumLayers, c.IntermediateSize, c.HiddenSize)), ("w2", S(c.NumLayers, c.HiddenSize, c.IntermediateSize)),
            ("w3", S(c.NumLayers, c.IntermediateSize, c.HiddenSize)), ("rms_final_weight", S(c.HiddenSize)),
            ("freq_cis_real", S(c.MaxPositionEmbeddings, c.HeadDim / 2)), ("freq_cis_imag", S(c.MaxPositionEmbeddings, c.HeadDim / 2)),
        })
            tensors.Add(new TensorSummary(name, shape, "F32"));
        if (!c.TieWordEmbeddings) tensors.Add(new TensorSummary("wcls", S(c.VocabSize, c.HiddenSize), "F32"));
        return new ModelDescription
        {
            Format = ModelFileFormat.Llama2c,
            Source = path,
            Config = c,
            Tensors = tensors,
            Metadata = [],
            // run.c hard-codes RoPE base 10,000 over the full head: nothing in the file says so.
            RopeSources = new Dictionary<string, SettingSource> { ["base"] = SettingSource.Default, ["rotary_dim"] = SettingSource.Default, ["scaling"] = SettingSource.Default },
        };
    }
}
