using System.Globalization;

namespace Elongate.Formats;

/// <summary>One GGUF key/value pair as stored: its key, type, value (a plain .NET scalar, string or <see cref="GgufArray"/>) and where it starts.</summary>
/// <param name="Key">Metadata key, e.g. "llama.context_length".</param>
/// <param name="Type">Stored value type.</param>
/// <param name="Value">byte, sbyte, ushort, short, uint, int, ulong, long, float, double, bool, string or <see cref="GgufArray"/>.</param>
/// <param name="Offset">File offset of the key's length prefix, for messages.</param>
public sealed record GgufMetadataEntry(string Key, GgufValueType Type, object Value, long Offset)
{
    /// <summary>
    /// The value for people (e.g. `elongate info`): numbers in invariant culture with round-trip precision, strings quoted,
    /// arrays as "[a, b, … (+N more)] (Type × count)" showing at most <paramref name="maxArrayItems"/> items.
    /// </summary>
    public string ValueToString(int maxArrayItems = 8) => Format(Value, maxArrayItems);

    private static string Format(object v, int maxItems) => v switch
    {
        string s => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n") + "\"",
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        GgufArray a => "[" + string.Join(", ", Enumerable.Range(0, Math.Min(a.Count, Math.Max(0, maxItems))).Select(i => Format(a.Items.GetValue(i)!, maxItems)))
                       + (a.Count > maxItems ? $", … (+{a.Count - maxItems} more)" : "") + $"] ({a.ElementType} × {a.Count})",
        IFormattable x => x.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}
