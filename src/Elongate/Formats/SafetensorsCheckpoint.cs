using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// A checkpoint stored as one safetensors file or as shards listed by a model.safetensors.index.json.
/// Opening it validates every shard; a tensor stored in two shards, a shard the index names that is missing,
/// or a tensor the index and the shards disagree about is a <see cref="ModelFormatException"/>.
/// </summary>
public sealed class SafetensorsCheckpoint : IDisposable
{
    private readonly List<SafetensorsReader> _readers;
    private readonly Dictionary<string, SafetensorsReader> _owner;

    /// <summary>The file opened: a .safetensors file or an index.</summary>
    public string Source { get; }

    /// <summary>The index for a sharded checkpoint, else null.</summary>
    public SafetensorsIndex? Index { get; }

    /// <summary>Shards in index order (one reader for a single file).</summary>
    public IReadOnlyList<SafetensorsReader> Shards => _readers;

    /// <summary>All tensor names.</summary>
    public IEnumerable<string> Names => _owner.Keys;

    private SafetensorsCheckpoint(string source, SafetensorsIndex? index, List<SafetensorsReader> readers, Dictionary<string, SafetensorsReader> owner)
    {
        Source = source;
        Index = index;
        _readers = readers;
        _owner = owner;
    }

    /// <summary>
    /// Opens <paramref name="path"/>: a file whose name ends in ".json" is read as an index, anything else as a
    /// single safetensors file.
    /// </summary>
    public static SafetensorsCheckpoint Open(string path)
    {
        if (!path.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            var single = SafetensorsReader.Open(path);
            var owner = single.Tensors.ToDictionary(t => t.Name, _ => single, StringComparer.Ordinal);
            return new SafetensorsCheckpoint(path, null, [single], owner);
        }
        var index = SafetensorsIndex.Load(path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var readers = new List<SafetensorsReader>();
        try
        {
            var byShard = new Dictionary<string, SafetensorsReader>(StringComparer.Ordinal);
            foreach (var shard in index.Shards)
            {
                string shardPath = Path.Combine(folder, shard);
                if (!File.Exists(shardPath))
                    throw new ModelFormatException(path, $"shard '{shard}' named by weight_map is missing ({shardPath})", key: shard);
                var r = SafetensorsReader.Open(shardPath);
                readers.Add(r);
                byShard[shard] = r;
            }
            var owner = new Dictionary<string, SafetensorsReader>(StringComparer.Ordinal);
            foreach (var r in readers)
            {
                foreach (var t in r.Tensors)
                {
                    if (owner.TryGetValue(t.Name, out var other))
                        throw new ModelFormatException(r.Source, $"tensor is also stored in shard {other.Source}", t.HeaderOffset, t.Name);
                    owner[t.Name] = r;
                    if (!index.WeightMap.TryGetValue(t.Name, out var listed))
                        throw new ModelFormatException(r.Source, $"tensor is not listed in the index {path}", t.HeaderOffset, t.Name);
                    if (!ReferenceEquals(byShard[listed], r))
                        throw new ModelFormatException(r.Source, $"index {path} places the tensor in '{listed}'", t.HeaderOffset, t.Name);
                }
            }
            foreach (var (name, shard) in index.WeightMap)
                if (!owner.ContainsKey(name))
                    throw new ModelFormatException(path, $"weight_map places the tensor in '{shard}', which does not hold it", key: name);
            return new SafetensorsCheckpoint(path, index, readers, owner);
        }
        catch
        {
            foreach (var r in readers) r.Dispose();
            throw;
        }
    }

    /// <summary>True when some shard holds the tensor.</summary>
    public bool Contains(string name) => _owner.ContainsKey(name);

    /// <summary>Header entry of a tensor; missing is a format error naming it.</summary>
    public SafetensorsTensorInfo GetInfo(string name) =>
        _owner.TryGetValue(name, out var r) ? r.GetInfo(name) : throw new ModelFormatException(Source, "tensor is missing", key: name);

    /// <summary>The shard that holds a tensor.</summary>
    public SafetensorsReader ShardOf(string name) =>
        _owner.TryGetValue(name, out var r) ? r : throw new ModelFormatException(Source, "tensor is missing", key: name);

    /// <summary>The tensor as fp32 (see <see cref="SafetensorsReader.ReadFloat32(string)"/>).</summary>
    public float[] ReadFloat32(string name) => ShardOf(name).ReadFloat32(name);

    public void Dispose()
    {
        foreach (var r in _readers) r.Dispose();
    }
}
