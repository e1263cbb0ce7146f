using System.Runtime.Intrinsics.X86;
using Elongate.Common;

namespace Elongate.Kernels;

/// <summary>
/// y = x·Wᵀ with W kept in its GGML storage type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K), the
/// nn.Linear forward of inference on quantized weights.
/// <para>
/// Few rows (decoding, short prompts): the integer types quantize each activation row once per call to int8
/// (<see cref="ActivationQuantizer"/>: 32-blocks for the legacy quants, 256-super-blocks for the k-quants, as llama.cpp's
/// Q8_0/Q8_K) and take int8 dot products against the still-packed weight blocks (<see cref="QuantDot"/>). The work is
/// bound by streaming W from memory once, so output rows are split over the pool in chunks of whole weight rows, and
/// each weight row is dotted with every activation row while it is in L1.
/// </para>
/// <para>
/// Many rows (prompt processing, ≥ <see cref="GemmRows"/>): arithmetic dominates and the fp32 GEMM micro-kernel does
/// more per cycle than the block-wise int8 dots, so W is dequantized straight into the packed panels of the fp32
/// <see cref="Gemm"/> loop (<see cref="QuantGemm"/>); W is still read and dequantized once per call.
/// </para>
/// Every output is computed the same way whatever the thread count or chunking, so results are bit-identical across
/// thread counts.
/// </summary>
public static unsafe class QuantMatMul
{
    /// <summary>
    /// From this many activation rows on, the fp32 GEMM over dequantized weights (<see cref="QuantGemm"/>) is faster than
    /// int8 dots. Chosen against the earlier 128-row panel path on Zen 5, one thread, 4096×4096: int8 dots give a flat
    /// 60–68 GFLOP/s for 32–128 rows (Q4_0, Q4_K, Q6_K), that path 30–47 GFLOP/s at 32 rows but 73–100 at 128.
    /// QuantGemm reaches 170 GFLOP/s at 512 rows; the break-even has not been re-measured since, so it may now be lower.
    /// </summary>
    internal const int GemmRows = 96;

    /// <summary>Below this many weight bytes × rows a call runs on the calling thread alone.</summary>
    private const long ParallelBytes = 1 << 16;

    /// <summary>The best path on this CPU.</summary>
    internal static QuantIsa BestIsa { get; } =
        Avx2.IsSupported && Fma.IsSupported ? AvxVnni.IsSupported ? QuantIsa.AvxVnni : QuantIsa.Avx2 : QuantIsa.Scalar;

    /// <summary>Whether this CPU can run <paramref name="isa"/>.</summary>
    internal static bool IsSupported(QuantIsa isa) => isa switch
    {
        QuantIsa.Auto or QuantIsa.Scalar => true,
        QuantIsa.Avx2 => Avx2.IsSupported && Fma.IsSupported,
        QuantIsa.AvxVnni => Avx2.IsSupported && Fma.IsSupported && AvxVnni.IsSupported,
        _ => false,
    };

    /// <summary>True when <see cref="Forward(float*, float*, int, byte*, GgmlType, int, int, WorkerPool, int)"/> can compute weights of this type.</summary>
    public static bool Supports(GgmlType type) => type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or GgmlType.Q8_0
        or GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>
    /// y[t·outDim + o] = Σ_i x[t·inDim + i]·W[o, i] for t &lt; <paramref name="rows"/>, o &lt; <paramref name="outDim"/>.
    /// W: <paramref name="outDim"/> rows of <paramref name="inDim"/> elements of <paramref name="type"/>, stored row after
    /// row from <paramref name="w"/> (row bytes = <see cref="GgmlTypes.ByteCount"/>(type, inDim)); inDim must be a
    /// multiple of the type's block size. Runs on <paramref name="pool"/>; allocates nothing in steady state.
    /// </summary>
    public static void Forward(float* y, float* x, int rows, byte* w, GgmlType type, int outDim, int inDim, WorkerPool pool, int maxThreads = 0) =>
        Forward(y, x, rows, w, type, outDim, inDim, pool, QuantIsa.Auto, maxThreads);

    /// <summary>Span form of <see cref="Forward(float*, float*, int, byte*, GgmlType, int, int, WorkerPool, int)"/>, checking lengths; <paramref name="pool"/> defaults to <see cref="WorkerPool.Default"/>.</summary>
    public static void Forward(Span<float> y, ReadOnlySpan<float> x, int rows, ReadOnlySpan<byte> w, GgmlType type, int outDim, int inDim,
        WorkerPool? pool = null) => Forward(y, x, rows, w, type, outDim, inDim, pool, QuantIsa.Auto);

    /// <summary>Span form with a forced instruction-set path (tests).</summary>
    internal static void Forward(Span<float> y, ReadOnlySpan<float> x, int rows, ReadOnlySpan<byte> w, GgmlType type, int outDim, int inDim,
        WorkerPool? pool, QuantIsa isa)
    {
        Check(type, rows, outDim, inDim);
        long wBytes = GgmlTypes.ByteCount(type, inDim) * outDim;
        if (x.Length < (long)rows * inDim || y.Length < (long)rows * outDim || w.Length < wBytes)
            throw new ArgumentException($"quantized matmul buffers too short: x {x.Length} for [{rows},{inDim}], y {y.Length} for [{rows},{outDim}], w {w.Length} bytes for {outDim} rows of {inDim} {type} ({wBytes} bytes)");
        fixed (float* py = y, px = x)
        fixed (byte* pw = w)
            Forward(py, px, rows, pw, type, outDim, inDim, pool ?? WorkerPool.Default, isa);
    }

    private static void Check(GgmlType type, int rows, int outDim, int inDim)
    {
        if (!Supports(type)) throw new ArgumentOutOfRangeException(nameof(type), type, "QuantMatMul does not support this weight type");
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(outDim);
        ArgumentOutOfRangeException.ThrowIfNegative(inDim);
        if (inDim % GgmlTypes.BlockSize(type) != 0)
            throw new ArgumentException($"inDim {inDim} is not a multiple of the {type} block size {GgmlTypes.BlockSize(type)}", nameof(inDim));
    }

    internal static void Forward(float* y, float* x, int rows, byte* w, GgmlType type, int outDim, int inDim, WorkerPool pool, QuantIsa isa,
        int maxThreads = 0)
    {
        Check(type, rows, outDim, inDim);
        ArgumentNullException.ThrowIfNull(pool);
        if (!IsSupported(isa)) throw new PlatformNotSupportedException($"quantized matmul path {isa} is not supported by this CPU");
        if (isa == QuantIsa.Auto) isa = BestIsa;
        if (rows == 0 || outDim == 0) return;
        if (inDim == 0)
        {
            new Span<float>(y, rows * outDim).Clear();
            return;
        }
        long rowBytes = GgmlTypes.ByteCount(type, inDim);
        int threads = rowBytes * outDim * rows < ParallelBytes ? 1 : maxThreads > 0 ? Math.Min(maxThreads, pool.Threads) : pool.Threads;
        var gemmIsa = isa == QuantIsa.Scalar ? GemmIsa.Scalar : GemmIsa.Auto;

        if (type == GgmlType.F32)
        {
            // Already fp32: the GEMM (and its GEMV path for few rows) is the right kernel as it stands.
            Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, rows, outDim, inDim, 1f,
                new ReadOnlySpan<float>(x, rows * inDim), inDim, new ReadOnlySpan<float>(w, outDim * inDim), inDim, 0f,
                new Span<float>(y, rows * outDim), outDim, gemmIsa, threads);
            return;
        }
        if (rows >= GemmRows)
        {
            QuantGemm.Multiply(y, x, rows, w, type, outDim, inDim, rowBytes, gemmIsa, pool, threads);
            return;
        }

        var task = new DotTask { Y = y, Rows = rows, W = w, Type = type, OutDim = outDim, InDim = inDim, RowBytes = rowBytes, Isa = isa, X = x };
        if (QuantDot.IsInteger(type)) QuantizeActivations(ref task, pool, threads);
        // Chunks of whole weight rows, each a long contiguous run of W: ≥ 256 KiB per claim, or the matrix split evenly
        // over the threads when it is smaller. Two threads claiming interleaved 32 KiB pieces stream only 31 GB/s from
        // DRAM on the 2-core EPYC where 256 KiB pieces reach 48.7 GB/s (a plain sum over 256 MB, `bench quant --stream`
        // shows the same for the matvec). A multiple of the four-row kernel's group, so every row meets the same kernel
        // whatever the thread count.
        long matrixBytes = rowBytes * outDim;
        int pieces = (int)Math.Max(threads, matrixBytes / (256 * 1024));
        task.ChunkRows = (int)Math.Max(16, ((outDim + pieces - 1) / pieces + 3) & ~3);
        task.Four = QuantDotRows.Supports(type, isa);
        int chunks = (outDim + task.ChunkRows - 1) / task.ChunkRows;
        pool.For(chunks, ref task, threads);
    }

    /// <summary>Fills the activation fields of <paramref name="task"/> with this thread's scratch and quantizes every row into it.</summary>
    private static void QuantizeActivations(ref DotTask task, WorkerPool pool, int threads)
    {
        int inDim = task.InDim, rows = task.Rows;
        bool k = QuantDot.IsKQuant(task.Type);
        int scales = inDim / (k ? 256 : 32), sums = k ? inDim / 16 * sizeof(short) : inDim / 32 * sizeof(int);
        long qBytes = Align((long)rows * inDim), dBytes = Align((long)rows * scales * sizeof(float)), sBytes = Align((long)rows * sums);
        byte* p = QuantScratch.Activations(qBytes + dBytes + sBytes);
        task.Q = (sbyte*)p;
        task.D = (float*)(p + qBytes);
        task.Sums = p + qBytes + dBytes;
        task.ScalesPerRow = scales;
        task.SumBytesPerRow = sums;
        var quantize = new QuantizeTask { Task = task, K = k };
        pool.For(rows, ref quantize, rows >= 8 ? threads : 1);
    }

    private static long Align(long bytes) => (bytes + 63) & ~63L;

    /// <summary>Quantizes activation row t.</summary>
    private struct QuantizeTask : IWorkerTask
    {
        public DotTask Task;
        public bool K;

        public readonly void Run(int t)
        {
            var a = Task.Activation(t);
            if (K) ActivationQuantizer.Blocks256(a.X, Task.InDim, a.Q, a.D, a.Sums16);
            else ActivationQuantizer.Blocks32(a.X, Task.InDim, a.Q, a.D, a.Sums32);
        }
    }

    /// <summary>Dot products for one chunk of output rows against every activation row.</summary>
    private struct DotTask : IWorkerTask
    {
        public float* Y, X, D;
        public sbyte* Q;
        public byte* W, Sums;
        public GgmlType Type;
        public QuantIsa Isa;
        public int Rows, OutDim, InDim, ChunkRows, ScalesPerRow, SumBytesPerRow;
        public long RowBytes;
        public bool Four;

        public readonly QuantDot.Act Activation(int t)
        {
            byte* s = Sums + (long)t * SumBytesPerRow;
            return new QuantDot.Act(Q + (long)t * InDim, D + (long)t * ScalesPerRow, (int*)s, (short*)s, X + (long)t * InDim);
        }

        public readonly void Run(int chunk)
        {
            int o0 = chunk * ChunkRows, o1 = Math.Min(OutDim, o0 + ChunkRows);
            if (Four)
            {
                // Four weight rows per pass against each activation row in turn: the group (≤ 4 rows of W, a few
                // KiB) stays in L1 while every activation row of a short prompt meets it.
                for (; o0 + QuantDotRows.Rows <= o1; o0 += QuantDotRows.Rows)
                {
                    byte* group = W + o0 * RowBytes;
                    for (int t = 0; t < Rows; t++)
                        QuantDotRows.Dot4(Type, Isa, group, RowBytes, Activation(t), InDim, Y + (long)t * OutDim + o0);
                }
            }
            for (int o = o0; o < o1; o++)
            {
                byte* row = W + o * RowBytes;
                for (int t = 0; t < Rows; t++)
                {
                    var a = Activation(t);
                    Y[(long)t * OutDim + o] = QuantDot.Row(Type, Isa, row, a, InDim);
                }
            }
        }
    }
}
