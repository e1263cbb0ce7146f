namespace Elongate.Data;

/// <summary>A document of a self-instruct run: its name (the file's), its text and its student tokens (no BOS/EOS).</summary>
public sealed record SelfInstructDocument(string Name, string Path, int[] Tokens)
{
    /// <summary>
    /// The .txt files of <paramref name="inputs"/> (files, or folders searched for .txt files), ordered by name, less
    /// those named in <paramref name="exclude"/> (a file name or a path).
    /// </summary>
    /// <exception cref="ArgumentException">An input does not exist, two documents share a name, an exclusion matches nothing, or nothing is left.</exception>
    public static (List<string> Files, List<string> Excluded) Find(IReadOnlyList<string> inputs, IReadOnlyList<string> exclude)
    {
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input)) files.AddRange(Directory.EnumerateFiles(input, "*.txt", SearchOption.AllDirectories).Order(StringComparer.Ordinal));
            else if (File.Exists(input)) files.Add(input);
            else throw new ArgumentException($"--docs: {input} does not exist");
        }
        var excluded = new List<string>();
        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in exclude)
        {
            var hits = files.Where(f => System.IO.Path.GetFileName(f) == name || System.IO.Path.GetFullPath(f) == System.IO.Path.GetFullPath(name)).ToList();
            if (hits.Count == 0) throw new ArgumentException($"--exclude: no document is named {name}");
            excluded.AddRange(hits);
            used.UnionWith(hits);
        }
        files = [.. files.Where(f => !used.Contains(f)).Distinct()];
        var dup = files.GroupBy(System.IO.Path.GetFileName).FirstOrDefault(g => g.Count() > 1);
        if (dup is not null) throw new ArgumentException($"--docs: two documents are named {dup.Key} ({string.Join(", ", dup)}); keys need distinct names");
        if (files.Count == 0) throw new ArgumentException("--docs: no .txt document left to use");
        return (files, excluded.Select(f => System.IO.Path.GetFileName(f)).ToList());
    }
}
