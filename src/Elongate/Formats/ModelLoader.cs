using Elongate.Model;
using Elongate.Rope;
using Elongate.Tokenization;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// One entry point for every checkpoint format: detects the format from the content (not the extension) and loads
/// or saves a <see cref="LlamaModel"/>. RoPE settings travel with the model's <see cref="LlamaConfig"/>, so a model
/// converted between formats keeps its base and scaling.
/// </summary>
public static class ModelLoader
{
    /// <summary>Tells which format <paramref name="path"/> is in (a folder or a .json/.safetensors file is Hugging Face).</summary>
    public static ModelFileFormat Detect(string path)
    {
        if (Directory.Exists(path)) return ModelFileFormat.HuggingFace;
        if (!File.Exists(path)) throw new ModelFormatException(path, "no such file or folder");
        var name = Path.GetFileName(path);
        if (name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase))
            return ModelFileFormat.HuggingFace;
        Span<byte> head = stackalloc byte[4];
        using (var f = File.OpenRead(path))
        {
            if (f.ReadAtLeast(head, 4, throwOnEndOfStream: false) == 4 && BitConverter.ToUInt32(head) == GgufFile.Magic)
                return ModelFileFormat.Gguf;
        }
        return ModelFileFormat.Llama2c;
    }

    /// <summary>Loads a model from any supported format (a GGUF memory-mapped when <paramref name="options"/> asks for it).</summary>
    public static LlamaModel Load(string path, ModelLoadOptions? options = null) => Detect(path) switch
    {
        ModelFileFormat.Gguf => GgufModelLoader.Load(path, options),
        ModelFileFormat.HuggingFace => HfModelLoader.Load(path),
        _ => Llama2cCheckpoint.Read(path),
    };

    /// <summary>
    /// The format a destination path asks for: .gguf → GGUF, .bin → llama2.c, a folder, .safetensors or .json → Hugging Face.
    /// </summary>
    public static ModelFileFormat FormatForOutput(string path)
    {
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return ModelFileFormat.Gguf;
        if (path.EndsWith(".bin", StringComparison.OrdinalIgnoreCase)) return ModelFileFormat.Llama2c;
        return ModelFileFormat.HuggingFace;
    }

    /// <summary>
    /// The GGUF weight types by name, as `--type` takes them: convert_hf_to_gguf.py's f32/f16/bf16/q8_0 and
    /// llama-quantize's file types (lower case), with q4_k and q5_k meaning q4_k_m and q5_k_m as in llama-quantize.
    /// </summary>
    public static IReadOnlyDictionary<string, GgufOutputType> GgufTypeNames { get; } = new Dictionary<string, GgufOutputType>
    {
        ["f32"] = GgufOutputType.F32, ["f16"] = GgufOutputType.F16, ["bf16"] = GgufOutputType.BF16, ["q8_0"] = GgufOutputType.Q8_0,
        ["q4_0"] = GgufOutputType.Q4_0, ["q4_1"] = GgufOutputType.Q4_1, ["q5_0"] = GgufOutputType.Q5_0, ["q5_1"] = GgufOutputType.Q5_1,
        ["q4_k_s"] = GgufOutputType.Q4_K_S, ["q4_k_m"] = GgufOutputType.Q4_K_M, ["q4_k"] = GgufOutputType.Q4_K_M,
        ["q5_k_s"] = GgufOutputType.Q5_K_S, ["q5_k_m"] = GgufOutputType.Q5_K_M, ["q5_k"] = GgufOutputType.Q5_K_M,
        ["q6_k"] = GgufOutputType.Q6_K,
    };

    /// <summary>
    /// Saves <paramref name="model"/> in the format <paramref name="path"/> asks for. <paramref name="type"/> is the
    /// weight type (for GGUF a name of <see cref="GgufTypeNames"/>; llama2.c is always f32, safetensors takes f32/f16/bf16).
    /// <paramref name="vocabulary"/> goes into GGUF files and Hugging Face folders (tokenizer.json); defaults to the model's own.
    /// </summary>
    public static void Save(LlamaModel model, string path, string type = "f32", TokenVocabulary? vocabulary = null)
    {
        var t = type.ToLowerInvariant();
        switch (FormatForOutput(path))
        {
            case ModelFileFormat.Gguf:
                if (!GgufTypeNames.TryGetValue(t, out var ggufType))
                    throw new ArgumentException($"GGUF output type must be one of {string.Join(", ", GgufTypeNames.Keys)}, got '{type}'");
                var writer = GgufModelWriter.Build(model, ggufType, vocabulary, RopeMetadata(model.Config));
                // Scalings llama.cpp expresses through tensors (rope_freqs for ntk/llama3, longrope factor sets).
                if (model.Config.RopeScaling is { } scaling)
                    foreach (var (name, values) in scaling.ToGgufTensors(model.Config.RopeTheta, model.Config.RotaryDim))
                        writer.AddTensor(name, [values.Length], values, GgmlType.F32);
                writer.Save(path);
                break;
            case ModelFileFormat.Llama2c:
                if (t != "f32") throw new ArgumentException($"llama2.c checkpoints are f32 only, got '{type}'");
                Llama2cCheckpoint.Write(model, path);
                break;
            default:
                var dtype = t switch
                {
                    "f32" => SafetensorsDtype.F32, "f16" => SafetensorsDtype.F16, "bf16" => SafetensorsDtype.BF16,
                    _ => throw new ArgumentException($"safetensors output type must be f32, f16 or bf16, got '{type}'"),
                };
                var dir = path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
                    ? Path.GetDirectoryName(Path.GetFullPath(path))! : path;
                HfModelWriter.Write(model, dir, dtype, vocabulary: vocabulary);
                break;
        }
    }

    /// <summary>llama.cpp's RoPE keys for a config (base, rotary width, scaling), written over the writer's defaults.</summary>
    public static IReadOnlyDictionary<string, object> RopeMetadata(LlamaConfig c)
    {
        var settings = new RopeSettings { Base = c.RopeTheta, DimensionCount = c.RotaryDim, Scaling = c.RopeScaling ?? RopeScaling.None };
        return settings.ToGgufMetadata("llama").ToDictionary(kv => kv.Key, kv => kv.Value);
    }
}
