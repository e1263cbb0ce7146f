using System.Text.Json;

namespace Elongate.Serving;

/// <summary>
/// Typed reads of a request object's fields with OpenAI-style errors: a wrong type or value is a 400 that names the
/// field. Absent and null fields read as null; unknown fields are ignored, as OpenAI-compatible servers do.
/// </summary>
internal static class OpenAiJsonReader
{
    /// <summary>The property, or null when it is absent or JSON null.</summary>
    public static JsonElement? Field(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static string? String(JsonElement obj, string name, string? param = null) => Field(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw OpenAiError.Invalid($"'{param ?? name}' must be a string", param ?? name),
    };

    public static bool? Bool(JsonElement obj, string name, string? param = null) => Field(obj, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw OpenAiError.Invalid($"'{param ?? name}' must be a boolean", param ?? name),
    };

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long? Integer(JsonElement obj, string name, long min = long.MinValue, long max = long.MaxValue, string? param = null)
    {
        if (Field(obj, name) is not { } v) return null;
        param ??= name;
        if (v.ValueKind != JsonValueKind.Number) throw OpenAiError.Invalid($"'{param}' must be an integer", param);
        long n;
        if (!v.TryGetInt64(out n))
        {
            // 8.0 is an integer written as a float; 1e30 and 2.5 are not usable.
            if (!v.TryGetDouble(out var d) || d != Math.Floor(d) || d < long.MinValue || d >= long.MaxValue)
                throw OpenAiError.Invalid($"'{param}' must be an integer between {min} and {max}", param);
            n = (long)d;
        }
        if (n < min || n > max) throw OpenAiError.Invalid($"'{param}' must be between {min} and {max}, not {n}", param);
        return n;
    }

    /// <summary>A finite number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static double? Number(JsonElement obj, string name, double min, double max)
    {
        if (Field(obj, name) is not { } v) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out var d) || !double.IsFinite(d))
            throw OpenAiError.Invalid($"'{name}' must be a number", name);
        if (d < min || d > max) throw OpenAiError.Invalid($"'{name}' must be between {min} and {max}, not {d}", name);
        return d;
    }

    /// <summary>A field that Elongate does not implement: allowed when absent, null or equal to its neutral value.</summary>
    public static void Unsupported(JsonElement obj, string name, Func<JsonElement, bool> isNeutral, string what)
    {
        if (Field(obj, name) is { } v && !isNeutral(v))
            throw OpenAiError.Invalid($"'{name}' is not supported by this server: {what}", name, "unsupported_parameter");
    }

    public static bool IsZero(JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == 0;
    public static bool IsOne(JsonElement v) => v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out var d) && d == 1;
    public static bool IsFalse(JsonElement v) => v.ValueKind == JsonValueKind.False;
    public static bool IsEmpty(JsonElement v) =>
        v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0
        || v.ValueKind == JsonValueKind.Object && !v.EnumerateObject().Any()
        || v.ValueKind == JsonValueKind.String && v.GetString() is "" or "none" or "auto";
}
