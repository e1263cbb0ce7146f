using System.Runtime.InteropServices;

namespace Elongate.Kernels;

/// <summary>
/// A 64-byte aligned scratch area that only grows. Packing buffers live in thread-static instances so steady-state GEMM
/// calls allocate nothing; the finalizer returns the native memory when the owning thread dies.
/// </summary>
internal sealed unsafe class GemmBuffer
{
    private float* _p;
    private long _capacity;

    [ThreadStatic] private static GemmBuffer? t_a;
    [ThreadStatic] private static GemmBuffer? t_b;
    [ThreadStatic] private static GemmBuffer? t_tile;
    [ThreadStatic] private static GemmBuffer? t_sliver;

    /// <summary>Buffer for packed A blocks (one per worker thread).</summary>
    public static float* A(long floats) => (t_a ??= new GemmBuffer()).Get(floats);

    /// <summary>Buffer for the shared packed B panel (owned by the calling thread).</summary>
    public static float* B(long floats) => (t_b ??= new GemmBuffer()).Get(floats);

    /// <summary>Scratch for one attention tile task (packed tiles, scores, accumulators) on this thread.</summary>
    public static float* Tile(long floats) => (t_tile ??= new GemmBuffer()).Get(floats);

    /// <summary>One fp32 sliver on its way to a 16-bit packed layout (<see cref="GemmPack16"/>), on this thread.</summary>
    public static float* Sliver(long floats) => (t_sliver ??= new GemmBuffer()).Get(floats);

    private float* Get(long floats)
    {
        if (floats > _capacity)
        {
            if (_p != null) NativeMemory.AlignedFree(_p);
            _p = null;
            long cap = Math.Max(floats, _capacity * 2);
            _p = (float*)NativeMemory.AlignedAlloc((nuint)(cap * sizeof(float)), 64);
            _capacity = cap;
        }
        return _p;
    }

    ~GemmBuffer()
    {
        if (_p != null) NativeMemory.AlignedFree(_p);
    }
}
