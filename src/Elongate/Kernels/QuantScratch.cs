using System.Runtime.InteropServices;

namespace Elongate.Kernels;

/// <summary>
/// Per-thread, 64-byte aligned, grow-only native scratch for <see cref="QuantMatMul"/>: the quantized activations
/// (owned by the calling thread, read by the workers) and dequantized weight slivers before packing (one per worker). Steady-state calls
/// allocate nothing; the finalizer frees the memory when the owning thread dies.
/// </summary>
internal sealed unsafe class QuantScratch
{
    private byte* _p;
    private long _capacity;

    [ThreadStatic] private static QuantScratch? t_activations;
    [ThreadStatic] private static QuantScratch? t_panel;

    /// <summary>Room for the quantized activation rows of one call (calling thread).</summary>
    public static byte* Activations(long bytes) => (t_activations ??= new QuantScratch()).Get(bytes);

    /// <summary>Room for one dequantized fp32 weight sliver (NR rows × KC, each worker its own).</summary>
    public static float* Panel(long floats) => (float*)(t_panel ??= new QuantScratch()).Get(floats * sizeof(float));

    private byte* Get(long bytes)
    {
        if (bytes > _capacity)
        {
            if (_p != null) NativeMemory.AlignedFree(_p);
            _p = null;
            long cap = Math.Max(bytes, _capacity * 2);
            _p = (byte*)NativeMemory.AlignedAlloc((nuint)cap, 64);
            _capacity = cap;
        }
        return _p;
    }

    ~QuantScratch()
    {
        if (_p != null) NativeMemory.AlignedFree(_p);
    }
}
