using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace Elongate.Formats;

/// <summary>
/// A read-only byte range that is either a memory-mapped file or a pinned managed array, so one parser serves
/// multi-gigabyte checkpoints (mapped, nothing copied up front) and small in-memory test files alike.
/// </summary>
internal sealed unsafe class PinnedBytes : IDisposable
{
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private GCHandle _pin;
    private bool _disposed;

    public byte* Pointer { get; private set; }
    public long Length { get; }

    private PinnedBytes(byte[] array)
    {
        _pin = GCHandle.Alloc(array, GCHandleType.Pinned);
        Pointer = (byte*)_pin.AddrOfPinnedObject();
        Length = array.LongLength;
    }

    private PinnedBytes(MemoryMappedFile map, MemoryMappedViewAccessor view, long length)
    {
        _map = map;
        _view = view;
        byte* p = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
        Pointer = p + view.PointerOffset;
        Length = length;
    }

    public static PinnedBytes FromArray(byte[] array) => new(array);

    /// <summary>Maps <paramref name="path"/> read-only; an empty file cannot be mapped, so it is read as an empty array.</summary>
    public static PinnedBytes MapFile(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        long length = fs.Length;
        if (length == 0)
        {
            fs.Dispose();
            return new PinnedBytes([]);
        }
        MemoryMappedFile? map = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            return new PinnedBytes(map, view, length);
        }
        catch
        {
            if (map is null) fs.Dispose();
            map?.Dispose();
            throw;
        }
    }

    /// <summary>A span over [offset, offset+count); the caller has already bounds-checked against <see cref="Length"/>.</summary>
    public ReadOnlySpan<byte> Span(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || count < 0 || offset > Length - count) throw new ArgumentOutOfRangeException(nameof(offset));
        return new ReadOnlySpan<byte>(Pointer + offset, count);
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Pointer = null;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
            _map!.Dispose();
        }
        if (_pin.IsAllocated) _pin.Free();
    }
}
