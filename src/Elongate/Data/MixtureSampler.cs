namespace Elongate.Data;

/// <summary>
/// Chooses which source each training sequence comes from, in proportion to weights (`--mix name=weight,...`),
/// with a checkpointable random state. The paper mixes long and short data this way.
/// </summary>
public sealed class MixtureSampler
{
    private readonly double[] _cumulative;
    private SplitMix64 _rng;

    public IReadOnlyList<string> Names { get; }

    public MixtureSampler(IReadOnlyList<(string Name, double Weight)> sources, ulong seed)
    {
        if (sources.Count == 0) throw new ArgumentException("a mixture needs at least one source");
        if (sources.Any(s => !(s.Weight >= 0) || double.IsInfinity(s.Weight))) throw new ArgumentException("mixture weights must be finite and ≥ 0");
        double total = sources.Sum(s => s.Weight);
        if (!(total > 0)) throw new ArgumentException("mixture weights must not all be 0");
        _cumulative = new double[sources.Count];
        double acc = 0;
        for (int i = 0; i < sources.Count; i++) _cumulative[i] = acc += sources[i].Weight / total;
        _cumulative[^1] = 1.0;
        Names = sources.Select(s => s.Name).ToArray();
        _rng = new SplitMix64(seed);
    }

    /// <summary>Parses "name=weight,name=weight".</summary>
    public static IReadOnlyList<(string Name, double Weight)> Parse(string spec)
    {
        var list = new List<(string, double)>();
        foreach (var part in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var kv = part.Split('=', 2);
            if (kv.Length != 2 || kv[0].Length == 0 || !double.TryParse(kv[1], System.Globalization.CultureInfo.InvariantCulture, out var w))
                throw new ArgumentException($"--mix entry '{part}' is not name=weight");
            list.Add((kv[0], w));
        }
        if (list.Select(x => x.Item1).Distinct().Count() != list.Count) throw new ArgumentException("--mix names a source twice");
        return list;
    }

    /// <summary>The random state, for checkpoints.</summary>
    public ulong State { get => _rng.State; set => _rng.State = value; }

    /// <summary>Index of the source for the next sequence.</summary>
    public int Next()
    {
        double r = _rng.NextDouble();
        for (int i = 0; i < _cumulative.Length; i++) if (r < _cumulative[i]) return i;
        return _cumulative.Length - 1;
    }
}
