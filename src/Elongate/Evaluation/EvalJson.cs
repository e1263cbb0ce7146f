using System.Text.Json;
using System.Text.Json.Serialization;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Evaluation;

/// <summary>
/// The JSON form of evaluation results: snake_case names, indented, NaN and infinities written as the strings
/// "NaN"/"Infinity" (an empty cell has no loss), written through a temp file and a rename.
/// </summary>
public static class EvalJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>Serializes <paramref name="value"/> (by its runtime type) to <paramref name="path"/> atomically.</summary>
    public static void Write(string path, object value) =>
        AtomicFile.Write(path, s => JsonSerializer.Serialize(s, value, value.GetType(), Options));
}
