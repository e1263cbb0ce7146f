namespace Elongate.Formats;

/// <summary>One GGUF key/value pair as stored: its key, type, value (a plain .NET scalar, string or <see cref="GgufArray"/>) and where it starts.</summary>
/// <param name="Key">Metadata key, e.g. "llama.context_length".</param>
/// <param name="Type">Stored value type.</param>
/// <param name="Value">byte, sbyte, ushort, short, uint, int, ulong, long, float, double, bool, string or <see cref="GgufArray"/>.</param>
/// <param name="Offset">File offset of the key's length prefix, for messages.</param>
public sealed record GgufMetadataEntry(string Key, GgufValueType Type, object Value, long Offset);
