using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace Elongate.Formats;

/// <summary>
/// Writes safetensors files byte-for-byte the way the reference implementation does: tensors sorted by dtype
/// (descending alignment order, <see cref="SafetensorsDtype"/>) then by name (ordinal UTF-8), "__metadata__"
/// first, compact JSON with fields dtype, shape, data_offsets, and the header padded with spaces to a multiple
/// of 8 bytes so every tensor starts 8-byte aligned. Output goes to a temporary file that is renamed into place.
/// </summary>
public static class SafetensorsWriter
{
    /// <summary>The metadata transformers' save_pretrained writes for PyTorch weights.</summary>
    public static IReadOnlyDictionary<string, string> PyTorchMetadata { get; } = new Dictionary<string, string> { ["format"] = "pt" };

    /// <summary>The whole file in memory (for tests and small tensors).</summary>
    public static byte[] Serialize(IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var ms = new MemoryStream();
        WriteTo(ms, Order(tensors), metadata);
        return ms.ToArray();
    }

    /// <summary>Writes one file at <paramref name="path"/> atomically (temp file + rename).</summary>
    public static void Write(string path, IReadOnlyList<SafetensorsTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var ordered = Order(tensors);
        using var staged = new StagedFiles();
        WriteFile(staged.Stage(path), ordered, metadata);
        staged.Commit();
    }

    /// <summary>
    /// Writes <paramref name="tensors"/> into <paramref name="directory"/> as shards of at most
    /// <paramref name="maxShardBytes"/> tensor bytes each (a larger tensor gets a shard of its own), named
    /// "{prefix}-00001-of-0000N.safetensors" with an index "{prefix}.safetensors.index.json", as transformers does.
    /// When everything fits in one shard a single "{prefix}.safetensors" is written and no index.
    /// Stale files of the other layout are removed so a loader cannot pick up old weights. Returns the file names written.
    /// </summary>
    public static IReadOnlyList<string> WriteSharded(string directory, IReadOnlyList<SafetensorsTensor> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata = null, string prefix = "model")
    {
        using var staged = new StagedFiles();
        var written = StageSharded(staged, directory, tensors, maxShardBytes, metadata, prefix);
        staged.Commit();
        RemoveStale(directory, prefix, written);
        return written;
    }

    internal static List<string> StageSharded(StagedFiles staged, string directory, IReadOnlyList<SafetensorsTensor> tensors, long maxShardBytes,
        IReadOnlyDictionary<string, string>? metadata, string prefix)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxShardBytes, 1);
        var ordered = Order(tensors);
        var shards = new List<List<SafetensorsTensor>>();
        long current = 0;
        foreach (var t in ordered)
        {
            if (shards.Count == 0 || (current > 0 && current + t.ByteLength > maxShardBytes))
            {
                shards.Add([]);
                current = 0;
            }
            shards[^1].Add(t);
            current += t.ByteLength;
        }
        if (shards.Count <= 1)
        {
            string name = prefix + ".safetensors";
            WriteFile(staged.Stage(Path.Combine(directory, name)), ordered, metadata);
            return [name];
        }
        var written = new List<string>();
        var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < shards.Count; i++)
        {
            string name = string.Create(CultureInfo.InvariantCulture, $"{prefix}-{i + 1:D5}-of-{shards.Count:D5}.safetensors");
            WriteFile(staged.Stage(Path.Combine(directory, name)), shards[i], metadata);
            foreach (var t in shards[i]) weightMap[t.Name] = name;
            written.Add(name);
        }
        long total = ordered.Sum(t => t.ByteLength);
        var index = new SafetensorsIndex(weightMap, new Dictionary<string, string> { ["total_size"] = total.ToString(CultureInfo.InvariantCulture) });
        string indexName = prefix + ".safetensors.index.json";
        File.WriteAllBytes(staged.Stage(Path.Combine(directory, indexName)), index.ToJsonBytes());
        written.Add(indexName);
        return written;
    }

    internal static void RemoveStale(string directory, string prefix, IReadOnlyCollection<string> keep)
    {
        var keepSet = new HashSet<string>(keep, StringComparer.Ordinal);
        var candidates = new List<string> { prefix + ".safetensors", prefix + ".safetensors.index.json" };
        foreach (var f in Directory.EnumerateFiles(directory, prefix + "-*-of-*.safetensors")) candidates.Add(Path.GetFileName(f));
        foreach (var name in candidates)
        {
            if (keepSet.Contains(name)) continue;
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) File.Delete(path);
        }
    }

    /// <summary>
    /// The padded JSON header for tensors already in file order. Exposed so tests can compare it with a
    /// hand-written header built from the specification.
    /// </summary>
    public static byte[] BuildHeader(IReadOnlyList<SafetensorsTensor> orderedTensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var sb = new StringBuilder("{");
        bool first = true;
        if (metadata is not null)
        {
            sb.Append("\"__metadata__\":{");
            bool firstKey = true;
            foreach (var kv in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (!firstKey) sb.Append(',');
                firstKey = false;
                AppendJsonString(sb, kv.Key).Append(':');
                AppendJsonString(sb, kv.Value);
            }
            sb.Append('}');
            first = false;
        }
        long offset = 0;
        foreach (var t in orderedTensors)
        {
            if (!first) sb.Append(',');
            first = false;
            AppendJsonString(sb, t.Name).Append(":{\"dtype\":\"").Append(t.Dtype.HeaderName()).Append("\",\"shape\":[");
            sb.AppendJoin(',', t.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
            long end = offset + t.ByteLength;
            sb.Append(CultureInfo.InvariantCulture, $"],\"data_offsets\":[{offset},{end}]}}");
            offset = end;
        }
        sb.Append('}');
        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        int padded = (bytes.Length + 7) / 8 * 8;
        var result = new byte[padded];
        bytes.CopyTo(result, 0);
        result.AsSpan(bytes.Length).Fill((byte)' ');
        return result;
    }

    /// <summary>Validates and sorts tensors into the reference's file order.</summary>
    public static List<SafetensorsTensor> Order(IReadOnlyList<SafetensorsTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (string.IsNullOrEmpty(t.Name) || t.Name == "__metadata__")
                throw new ArgumentException($"invalid tensor name '{t.Name}'", nameof(tensors));
            if (!names.Add(t.Name)) throw new ArgumentException($"tensor '{t.Name}' appears twice", nameof(tensors));
            if (!t.Dtype.IsFloatConvertible())
                throw new ArgumentException($"tensor '{t.Name}': only F32, F16 and BF16 can be written, not {t.Dtype}", nameof(tensors));
            long count = 1;
            foreach (var d in t.Shape)
            {
                if (d < 0) throw new ArgumentException($"tensor '{t.Name}' has negative dimension {d}", nameof(tensors));
                count = checked(count * d);
            }
            if (count != t.Data.LongLength)
                throw new ArgumentException($"tensor '{t.Name}': shape {SafetensorsTensorInfo.FormatShape(t.Shape)} holds {count} elements but data has {t.Data.LongLength}", nameof(tensors));
        }
        var ordered = tensors.ToList();
        ordered.Sort((a, b) =>
        {
            int c = b.Dtype.CompareTo(a.Dtype);
            return c != 0 ? c : Encoding.UTF8.GetBytes(a.Name).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b.Name));
        });
        return ordered;
    }

    private static void WriteFile(string path, IReadOnlyList<SafetensorsTensor> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        using var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20);
        WriteTo(fs, ordered, metadata);
        fs.Flush(flushToDisk: true);
    }

    private static void WriteTo(Stream stream, IReadOnlyList<SafetensorsTensor> ordered, IReadOnlyDictionary<string, string>? metadata)
    {
        var header = BuildHeader(ordered, metadata);
        Span<byte> n = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
        stream.Write(n);
        stream.Write(header);
        var buffer = new byte[1 << 20];
        foreach (var t in ordered)
        {
            int size = t.Dtype.Size();
            int perChunk = buffer.Length / size;
            for (int done = 0; done < t.Data.Length;)
            {
                int count = Math.Min(perChunk, t.Data.Length - done);
                var src = t.Data.AsSpan(done, count);
                var dst = buffer.AsSpan(0, count * size);
                switch (t.Dtype)
                {
                    case SafetensorsDtype.F32:
                        if (BitConverter.IsLittleEndian) MemoryMarshal.AsBytes(src).CopyTo(dst);
                        else for (int i = 0; i < count; i++) BinaryPrimitives.WriteSingleLittleEndian(dst[(4 * i)..], src[i]);
                        break;
                    case SafetensorsDtype.F16:
                        for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], SafetensorsDtypes.FloatToHalf(src[i]));
                        break;
                    default:
                        for (int i = 0; i < count; i++) BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], SafetensorsDtypes.FloatToBFloat16(src[i]));
                        break;
                }
                stream.Write(dst);
                done += count;
            }
        }
    }

    /// <summary>JSON string escaping as serde_json does it: only '"', '\\' and control characters; other text raw UTF-8.</summary>
    private static StringBuilder AppendJsonString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        return sb.Append('"');
    }
}
