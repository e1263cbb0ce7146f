namespace Elongate.Tests;

/// <summary>
/// The one place tests find third-party fixtures: $ELONGATE_FIXTURES, else ../shared/fixtures beside the repository.
/// Absent fixtures skip a test with the reason, except under CI=true, where they must be present and the test fails.
/// </summary>
public static class Fixtures
{
    private static readonly Lazy<string?> RootDir = new(FindRoot);

    /// <summary>The fixtures folder, or null when it cannot be found.</summary>
    public static string? Root => RootDir.Value;

    /// <summary>The repository root (the folder holding Elongate.slnx).</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>Full path of a fixture file; skips (or fails under CI) when it is missing.</summary>
    public static string Path(string relative)
    {
        var root = Root;
        var full = root is null ? null : System.IO.Path.Combine(root, relative);
        if (full is not null && (File.Exists(full) || Directory.Exists(full))) return full;
        var reason = root is null
            ? "fixtures folder not found: set ELONGATE_FIXTURES or place shared/fixtures beside the repository"
            : $"fixture '{relative}' not found under {root}";
        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            throw new InvalidOperationException($"CI=true requires fixtures: {reason}");
        throw new SkipException(reason);
    }

    private static string? FindRoot()
    {
        var env = Environment.GetEnvironmentVariable("ELONGATE_FIXTURES");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? System.IO.Path.GetFullPath(env) : null;
        var candidate = System.IO.Path.GetFullPath(System.IO.Path.Combine(RepoRoot, "..", "shared", "fixtures"));
        return Directory.Exists(candidate) ? candidate : null;
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Elongate.slnx"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
