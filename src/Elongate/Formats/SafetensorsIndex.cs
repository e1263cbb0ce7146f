using System.Text.Json;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// A sharded checkpoint's index (model.safetensors.index.json): {"metadata": {...}, "weight_map": {tensor: shard file}}.
/// Shard names must be plain file names in the index's folder, so a crafted index cannot make the loader read
/// files elsewhere on disk.
/// </summary>
public sealed class SafetensorsIndex
{
    /// <summary>The file name transformers gives the index of "model-XXXXX-of-YYYYY.safetensors" shards.</summary>
    public const string DefaultFileName = "model.safetensors.index.json";

    /// <summary>The "metadata" object's entries as raw JSON text (transformers stores total_size there).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensor name → shard file name, in file order.</summary>
    public IReadOnlyDictionary<string, string> WeightMap { get; }

    /// <summary>Distinct shard file names in first-mention order.</summary>
    public IReadOnlyList<string> Shards { get; }

    public SafetensorsIndex(IReadOnlyDictionary<string, string> weightMap, IReadOnlyDictionary<string, string>? metadata = null)
    {
        WeightMap = weightMap;
        Metadata = metadata ?? new Dictionary<string, string>();
        Shards = weightMap.Values.Distinct(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Reads and validates an index file.</summary>
    public static SafetensorsIndex Load(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(path, $"cannot read index: {e.Message}", inner: e);
        }
        return Parse(bytes, path);
    }

    /// <summary>Parses index JSON; <paramref name="source"/> names it in errors.</summary>
    public static SafetensorsIndex Parse(ReadOnlySpan<byte> utf8Json, string source)
    {
        var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 32 });
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        bool sawWeightMap = false, sawMetadata = false;
        try
        {
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                throw new ModelFormatException(source, "index must be a JSON object", reader.TokenStartIndex);
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                long keyOffset = reader.TokenStartIndex;
                string key = reader.GetString()!;
                reader.Read();
                if (key == "weight_map")
                {
                    if (sawWeightMap) throw new ModelFormatException(source, "appears twice", keyOffset, key);
                    sawWeightMap = true;
                    if (reader.TokenType != JsonTokenType.StartObject)
                        throw new ModelFormatException(source, $"must be an object, got {reader.TokenType}", keyOffset, key);
                    while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
                    {
                        long at = reader.TokenStartIndex;
                        string tensor = reader.GetString()!;
                        reader.Read();
                        if (reader.TokenType != JsonTokenType.String)
                            throw new ModelFormatException(source, $"shard name must be a string, got {reader.TokenType}", at, $"weight_map.{tensor}");
                        string shard = reader.GetString()!;
                        CheckShardName(shard, source, at, tensor);
                        if (!weightMap.TryAdd(tensor, shard))
                            throw new ModelFormatException(source, "tensor listed twice in weight_map", at, $"weight_map.{tensor}");
                    }
                }
                else if (key == "metadata")
                {
                    if (sawMetadata) throw new ModelFormatException(source, "appears twice", keyOffset, key);
                    sawMetadata = true;
                    if (reader.TokenType == JsonTokenType.Null) continue;
                    if (reader.TokenType != JsonTokenType.StartObject)
                        throw new ModelFormatException(source, $"must be an object, got {reader.TokenType}", keyOffset, key);
                    var doc = JsonDocument.ParseValue(ref reader);
                    var seen = new HashSet<string>(StringComparer.Ordinal);
                    foreach (var p in doc.RootElement.EnumerateObject())
                    {
                        if (!seen.Add(p.Name)) throw new ModelFormatException(source, "metadata key appears twice", keyOffset, $"metadata.{p.Name}");
                        metadata[p.Name] = p.Value.GetRawText();
                    }
                }
                else
                {
                    reader.Skip();
                }
            }
            if (reader.Read()) throw new ModelFormatException(source, "unexpected content after the index object", reader.TokenStartIndex);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new ModelFormatException(source, $"index is not valid JSON: {e.Message}", reader.BytesConsumed, inner: e);
        }
        if (!sawWeightMap) throw new ModelFormatException(source, "index has no weight_map", key: "weight_map");
        if (weightMap.Count == 0) throw new ModelFormatException(source, "weight_map is empty", key: "weight_map");
        return new SafetensorsIndex(weightMap, metadata);
    }

    /// <summary>The index as transformers writes it: two-space indent, sorted keys, trailing newline.</summary>
    public byte[] ToJsonBytes()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            w.WriteStartObject("metadata");
            foreach (var kv in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.WritePropertyName(kv.Key);
                w.WriteRawValue(kv.Value);
            }
            w.WriteEndObject();
            w.WriteStartObject("weight_map");
            foreach (var kv in WeightMap.OrderBy(kv => kv.Key, StringComparer.Ordinal)) w.WriteString(kv.Key, kv.Value);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        ms.Write("\n"u8);
        return ms.ToArray();
    }

    private static void CheckShardName(string shard, string source, long at, string tensor)
    {
        if (shard.Length == 0 || shard == "." || shard == ".." || shard.IndexOfAny(['/', '\\', ':', '\0']) >= 0 || Path.IsPathRooted(shard))
            throw new ModelFormatException(source, $"shard name '{shard}' must be a plain file name in the index's folder", at, $"weight_map.{tensor}");
    }

}
