using Elongate.Common;

namespace Elongate.Formats;

/// <summary>
/// Writes a set of output files all-or-nothing: each is written to a temporary sibling first and renamed into
/// place only when every file has been written. If anything fails, the temporaries (and any file already renamed
/// in this batch) are deleted, so a crash or an error never leaves a half-written model behind.
/// </summary>
internal sealed class StagedFiles : IDisposable
{
    private readonly List<(string Temp, string Final)> _files = [];
    private bool _committed;

    /// <summary>Returns the temporary path to write for <paramref name="finalPath"/>.</summary>
    public string Stage(string finalPath)
    {
        var full = Path.GetFullPath(finalPath);
        var temp = AtomicFile.TempPathFor(full);
        _files.Add((temp, full));
        return temp;
    }

    /// <summary>Renames every temporary into place; on failure removes this batch's files and rethrows.</summary>
    public void Commit()
    {
        int moved = 0;
        try
        {
            foreach (var (temp, final) in _files)
            {
                File.Move(temp, final, overwrite: true);
                moved++;
            }
            _committed = true;
        }
        catch
        {
            for (int i = 0; i < moved; i++) TryDelete(_files[i].Final);
            throw;
        }
    }

    public void Dispose()
    {
        if (_committed) return;
        foreach (var (temp, _) in _files) TryDelete(temp);
    }

    private static void TryDelete(string path)
    {
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
