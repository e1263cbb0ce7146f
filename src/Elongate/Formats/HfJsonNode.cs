using System.Text.Json;
using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// A JSON value with its path ("model.merges[3]") and file, whose typed accessors throw
/// <see cref="ModelFormatException"/> naming both instead of the InvalidOperationException of
/// <see cref="JsonElement"/>, so that a malformed tokenizer.json never surfaces as any other exception.
/// </summary>
internal readonly struct HfJsonNode(JsonElement element, string path, string source)
{
    public JsonElement Element { get; } = element;
    public string Path { get; } = path;
    public string Source { get; } = source;

    public JsonValueKind Kind => Element.ValueKind;

    public bool IsNull => Element.ValueKind == JsonValueKind.Null;

    /// <summary>Parses a whole file; malformed JSON (or invalid UTF-8) is a <see cref="ModelFormatException"/>.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> bytes, string source)
    {
        // JsonDocument would accept a UTF-8 byte order mark too; strip it so positions in messages count from the text.
        if (bytes.Span.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF])) bytes = bytes[3..];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new ModelFormatException(source, $"malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", inner: e);
        }
        catch (ArgumentException e)
        {
            // Invalid UTF-8 inside a string is reported this way by some paths of the reader.
            throw new ModelFormatException(source, $"malformed JSON: {e.Message}", inner: e);
        }
        try
        {
            CheckText(doc.RootElement, "", source);
        }
        catch
        {
            doc.Dispose();
            throw;
        }
        return doc;
    }

    /// <summary>
    /// Decodes every member name and string once, so that an escaped lone surrogate ("\uD800"), valid JSON but not
    /// text .NET can hold, is reported here with its path instead of as InvalidOperationException at a later lookup.
    /// </summary>
    private static void CheckText(JsonElement e, string path, string source)
    {
        try
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.String:
                    _ = e.GetString();
                    break;
                case JsonValueKind.Array:
                    int i = 0;
                    foreach (var item in e.EnumerateArray()) CheckText(item, $"{path}[{i++}]", source);
                    break;
                case JsonValueKind.Object:
                    foreach (var p in e.EnumerateObject())
                    {
                        string name = p.Name;
                        CheckText(p.Value, path.Length == 0 ? name : $"{path}.{name}", source);
                    }
                    break;
            }
        }
        catch (InvalidOperationException ex)
        {
            throw new ModelFormatException(source, $"holds text that is not valid UTF-16: {ex.Message}", key: path.Length == 0 ? null : path, inner: ex);
        }
    }

    public ModelFormatException Error(string problem) => new(Source, problem, key: Path.Length == 0 ? null : Path);

    private string Describe() => Element.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "missing",
    };

    /// <summary>The member <paramref name="name"/> of this object, or null when absent or JSON null.</summary>
    public HfJsonNode? Get(string name)
    {
        RequireObject();
        if (!Element.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null) return null;
        return new HfJsonNode(v, Path.Length == 0 ? name : $"{Path}.{name}", Source);
    }

    /// <summary>The member <paramref name="name"/>, which must be present and not null.</summary>
    public HfJsonNode Require(string name) =>
        Get(name) ?? throw new ModelFormatException(Source, "is missing", key: Path.Length == 0 ? name : $"{Path}.{name}");

    public void RequireObject()
    {
        if (Element.ValueKind != JsonValueKind.Object) throw Error($"must be an object, not {Describe()}");
    }

    public string String()
    {
        if (Element.ValueKind != JsonValueKind.String) throw Error($"must be a string, not {Describe()}");
        try
        {
            return Element.GetString()!;
        }
        catch (InvalidOperationException e)
        {
            // An escaped lone surrogate ("\uD800") is valid JSON but not a string .NET can hold.
            throw Error($"is not valid text: {e.Message}");
        }
    }

    public bool Bool() => Element.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw Error($"must be true or false, not {Describe()}"),
    };

    /// <summary>A non-negative 32-bit integer.</summary>
    public int Index()
    {
        if (Element.ValueKind != JsonValueKind.Number || !Element.TryGetInt32(out int v) || v < 0)
            throw Error($"must be a non-negative 32-bit integer, not {(Element.ValueKind == JsonValueKind.Number ? Element.GetRawText() : Describe())}");
        return v;
    }

    /// <summary>The elements of this array, each with its index in the path.</summary>
    public IEnumerable<HfJsonNode> Items()
    {
        if (Element.ValueKind != JsonValueKind.Array) throw Error($"must be an array, not {Describe()}");
        return ItemsOf(Element, Path, Source);
    }

    private static IEnumerable<HfJsonNode> ItemsOf(JsonElement array, string path, string source)
    {
        int i = 0;
        foreach (var item in array.EnumerateArray()) yield return new HfJsonNode(item, $"{path}[{i++}]", source);
    }

    public int Count()
    {
        if (Element.ValueKind != JsonValueKind.Array) throw Error($"must be an array, not {Describe()}");
        return Element.GetArrayLength();
    }

    /// <summary>The members of this object in file order.</summary>
    public IEnumerable<(string Name, HfJsonNode Value)> Members()
    {
        RequireObject();
        return MembersOf(Element, Path, Source);
    }

    private static IEnumerable<(string, HfJsonNode)> MembersOf(JsonElement obj, string path, string source)
    {
        foreach (var p in obj.EnumerateObject())
        {
            string name;
            try
            {
                name = p.Name;
            }
            catch (InvalidOperationException e)
            {
                throw new ModelFormatException(source, $"has a member name that is not valid text: {e.Message}", key: path);
            }
            yield return (name, new HfJsonNode(p.Value, $"{path}[\"{name}\"]", source));
        }
    }
}
