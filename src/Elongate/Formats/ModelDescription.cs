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
    public required LlamaConfig Config { get; init; }
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
        var config = GgufModelLoader.ReadConfig(file);
        return new ModelDescription
        {
            Format = ModelFileFormat.Gguf,
            Source = path,
            Config = config,
            Tensors = file.Tensors.Select(t => new TensorSummary(t.Name, t.ShapeString, t.Type.ToString())).ToArray(),
            Metadata = file.Metadata.Select(m => new KeyValuePair<string, string>(m.Key, m.ValueToString())).ToArray(),
            RopeSources = new Dictionary<string, SettingSource>
            {
                ["base"] = Given(file.ContainsKey("llama.rope.freq_base")),
                ["rotary_dim"] = Given(file.ContainsKey("llama.rope.dimension_count")),
                ["scaling"] = Given(file.Metadata.Any(m => m.Key.StartsWith("llama.rope.scaling.", StringComparison.Ordinal)) || file.TensorsByName.ContainsKey("rope_freqs.weight")),
            },
            Vocabulary = GgufVocabularyReader.HasVocabulary(file) ? GgufVocabularyReader.Read(file) : null,
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
