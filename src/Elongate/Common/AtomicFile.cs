namespace Elongate.Common;

/// <summary>
/// Writes a file through a temporary sibling and renames it into place, so a crash or an exception never leaves
/// a half-written output under the final name. Every output of the library goes through here (or, for sets of files
/// that must appear together, through the staged batch built on <see cref="TempPathFor"/>).
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// A hidden, unique temporary path in the same folder as <paramref name="fullPath"/> (same file system, so the
    /// rename is atomic), ending in .tmp, or in .tmp plus the final extension for writers that choose the format by it.
    /// </summary>
    public static string TempPathFor(string fullPath, bool keepExtension = false) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!, keepExtension
            ? $".{Path.GetFileNameWithoutExtension(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp{Path.GetExtension(fullPath)}"
            : $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");

    /// <summary>Calls <paramref name="write"/> with a stream to a temp file, then renames it to <paramref name="path"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        using var pending = Create(path);
        write(pending.Stream);
        pending.Commit();
    }

    /// <summary>Writes <paramref name="text"/> (UTF-8) atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => { using var w = new StreamWriter(s, leaveOpen: true); w.Write(text); });

    /// <summary>
    /// For writers that only take a path (plot libraries): <paramref name="write"/> writes the temp path it is given,
    /// which is then renamed to <paramref name="path"/>; on failure the temp file is removed.
    /// </summary>
    public static void WriteVia(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var temp = TempPathFor(full, keepExtension: true);
        try
        {
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { }
            throw;
        }
    }

    /// <summary>Opens a temp file for <paramref name="path"/>; <see cref="Pending.Commit"/> renames it into place, disposing without it deletes it.</summary>
    public static Pending Create(string path) => new(Path.GetFullPath(path));

    /// <summary>An output being written under a temporary name.</summary>
    public sealed class Pending : IDisposable
    {
        private readonly string _final, _temp;
        private bool _done;

        /// <summary>The stream to the temporary file.</summary>
        public FileStream Stream { get; }

        internal Pending(string fullPath)
        {
            _final = fullPath;
            Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
            _temp = TempPathFor(fullPath);
            Stream = new FileStream(_temp, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 16);
        }

        /// <summary>Flushes to disk, closes and renames the temp file to the final path.</summary>
        public void Commit()
        {
            ObjectDisposedException.ThrowIf(_done, this);
            Stream.Flush(flushToDisk: true);
            Stream.Dispose();
            File.Move(_temp, _final, overwrite: true);
            _done = true;
        }

        /// <summary>Abandons an uncommitted file, deleting the temporary.</summary>
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Stream.Dispose();
            try { File.Delete(_temp); } catch (IOException) { }
        }
    }
}
