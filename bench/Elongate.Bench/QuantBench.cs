using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Bench;

/// <summary>
/// `quant` subcommand: <see cref="WorkerPool"/> dispatch latency, then <see cref="QuantMatMul"/> per weight type —
/// matrix-vector GB/s of weights streamed (decoding is bound by that) and matrix-matrix GFLOP/s at a prompt-sized
/// batch of rows. Best of several timed repetitions, each long enough (≥ 0.2 s) to average out the shared machine.
/// </summary>
internal static unsafe class QuantBench
{
    private static readonly GgmlType[] AllTypes =
    [
        GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_K, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
        GgmlType.F16, GgmlType.BF16, GgmlType.F32,
    ];

    public static int Run(string[] args)
    {
        var types = AllTypes;
        int[] threadList = [1, 2];
        (int Out, int In)[] shapes = [(4096, 4096), (11008, 4096)];
        int[] rowList = [512];
        bool matmul = false, shapesGiven = false;
        double minSeconds = 0.2;
        bool stream = false;
        long streamMb = 256;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--types": types = args[++i].Split(',').Select(s => Enum.Parse<GgmlType>(s, ignoreCase: true)).ToArray(); break;
                case "--threads": threadList = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--rows": rowList = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--matmul": matmul = true; break;
                case "--quick": minSeconds = 0.05; break;
                case "--cputime": s_cpuTime = true; break;
                case "--small": shapes = [(4096, 4096)]; break;
                case "--stream": stream = true; break;
                case "--mb": streamMb = long.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--shape" or "--shapes":
                    shapes = args[++i].Split(',').Select(d => d.Split('x'))
                        .Select(d => (int.Parse(d[0], CultureInfo.InvariantCulture), int.Parse(d[1], CultureInfo.InvariantCulture))).ToArray();
                    shapesGiven = true;
                    break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: quant [--types q4_0,q8_0,...] [--threads 1,2] [--rows 512[,4096]] [--matmul] [--quick] [--cputime] [--small] [--shapes 4096x4096,...] [--stream [--mb 256]]");
                    return 2;
            }
        }
        s_minSeconds = minSeconds;
        Console.WriteLine($"CPU: {CpuModel()}, {Environment.ProcessorCount} logical cores");
        if (matmul) return Matmul(types, threadList, rowList, shapesGiven ? shapes : PromptShapes);
        if (stream) return Stream(types, threadList, streamMb);
        Dispatch();
        int promptRows = rowList[0];

        foreach (var (outDim, inDim) in shapes)
        {
            float* x = (float*)NativeMemory.AlignedAlloc((nuint)((long)promptRows * inDim * 4), 64);
            float* y = (float*)NativeMemory.AlignedAlloc((nuint)((long)promptRows * outDim * 4), 64);
            var rng = new Random(1);
            for (long i = 0; i < (long)promptRows * inDim; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            foreach (var type in types)
            {
                long bytes = GgmlTypes.ByteCount(type, (long)outDim * inDim);
                byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                Fill(w, bytes, type, outDim * (long)inDim);
                foreach (int threads in threadList)
                {
                    using var pool = new WorkerPool(threads);
                    double gemv = Seconds(() => QuantMatMul.Forward(y, x, 1, w, type, outDim, inDim, pool));
                    string line = $"{type,-5} {outDim,5}x{inDim} {threads}T  matvec {bytes / gemv / 1e9,6:F1} GB/s ({gemv * 1e6,7:F0} µs)";
                    if (outDim == shapes[0].Out)
                    {
                        double gemm = Seconds(() => QuantMatMul.Forward(y, x, promptRows, w, type, outDim, inDim, pool));
                        line += $"  matmul rows={promptRows} {2.0 * promptRows * outDim * inDim / gemm / 1e9,6:F1} GFLOP/s";
                    }
                    Console.WriteLine(line);
                }
                NativeMemory.AlignedFree(w);
            }
            NativeMemory.AlignedFree(x);
            NativeMemory.AlignedFree(y);
        }
        return 0;
    }

    /// <summary>Projection shapes (out × in) of a 134M Llama (dim 768, hidden 2048, vocab 32000) and of TinyLlama 1.1B
    /// (dim 2048, 256-wide K/V, hidden 5632).</summary>
    private static readonly (int Out, int In)[] PromptShapes =
    [
        (768, 768), (2048, 768), (768, 2048), (32000, 768), (2048, 2048), (256, 2048), (5632, 2048), (2048, 5632),
    ];

    private static double s_minSeconds = 0.2;

    /// <summary>--cputime: time by the process's CPU seconds (÷ threads) instead of wall time, so that a neighbour
    /// taking the shared cores away mid-run does not count against us (for 1-thread comparisons on a busy machine).</summary>
    private static bool s_cpuTime;

    /// <summary>
    /// Prompt-processing mode (--matmul): for each shape, row count and thread count, the fp32 <see cref="Gemm"/> rate on
    /// the same product (W already fp32, y = x·Wᵀ) and then every weight type's <see cref="QuantMatMul"/> rate and its
    /// ratio to that fp32 rate.
    /// </summary>
    private static int Matmul(GgmlType[] types, int[] threadList, int[] rowList, (int Out, int In)[] shapes)
    {
        foreach (var (outDim, inDim) in shapes)
            foreach (int rows in rowList)
            {
                float* x = (float*)NativeMemory.AlignedAlloc((nuint)((long)rows * inDim * 4), 64);
                float* y = (float*)NativeMemory.AlignedAlloc((nuint)((long)rows * outDim * 4), 64);
                var rng = new Random(1);
                for (long i = 0; i < (long)rows * inDim; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
                double flops = 2.0 * rows * outDim * inDim;
                var weights = new Dictionary<GgmlType, nint>();
                foreach (var type in types.Append(GgmlType.F32).Distinct())
                {
                    long bytes = GgmlTypes.ByteCount(type, (long)outDim * inDim);
                    byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                    Fill(w, bytes, type, outDim * (long)inDim);
                    weights[type] = (nint)w;
                }
                foreach (int threads in threadList)
                {
                    using var pool = new WorkerPool(threads);
                    float* wf = (float*)weights[GgmlType.F32];
                    double fp32 = flops / Seconds(() => Gemm.Multiply(GemmTranspose.None, GemmTranspose.Transpose, rows, outDim, inDim, 1f,
                        new ReadOnlySpan<float>(x, rows * inDim), inDim, new ReadOnlySpan<float>(wf, outDim * inDim), inDim, 0f,
                        new Span<float>(y, rows * outDim), outDim, GemmIsa.Auto, threads), threads) / 1e9;
                    Console.WriteLine($"{outDim,5}x{inDim,-5} rows={rows,-4} {threads}T  fp32 Gemm {fp32,6:F1} GFLOP/s");
                    foreach (var type in types)
                    {
                        byte* w = (byte*)weights[type];
                        double g = flops / Seconds(() => QuantMatMul.Forward(y, x, rows, w, type, outDim, inDim, pool), threads) / 1e9;
                        Console.WriteLine($"{outDim,5}x{inDim,-5} rows={rows,-4} {threads}T  {type,-5}    {g,6:F1} GFLOP/s  {g / fp32 * 100,4:F0}% of fp32");
                    }
                }
                foreach (var w in weights.Values) NativeMemory.AlignedFree((void*)w);
                NativeMemory.AlignedFree(x);
                NativeMemory.AlignedFree(y);
            }
        return 0;
    }

    /// <summary>
    /// `--stream`: matrix-vector products (rows = 1) cycling through ≥ <paramref name="megabytes"/> MB of distinct
    /// matrices of one type, so every weight byte comes from DRAM as in decoding (a single 4096×4096 Q4_0 matrix is
    /// 9 MB and would partly stay in cache). Two layer mixes: a 134M-parameter Llama's layers (dim 768, FFN 2048:
    /// q, k, v, o 768×768, gate and up 2048×768, down 768×2048) and 4096×4096 matrices.
    /// </summary>
    private static int Stream(GgmlType[] types, int[] threadList, long megabytes)
    {
        (string Name, (int Out, int In)[] Layer)[] mixes =
        [
            ("134M layers", [(768, 768), (768, 768), (768, 768), (768, 768), (2048, 768), (2048, 768), (768, 2048)]),
            ("4096x4096", [(4096, 4096)]),
        ];
        float* x = (float*)NativeMemory.AlignedAlloc(4096 * 4 * 4, 64);
        float* y = (float*)NativeMemory.AlignedAlloc(4096 * 4 * 4, 64);
        var rng = new Random(1);
        for (int i = 0; i < 4096 * 4; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        foreach (var type in types)
            foreach (var (name, layer) in mixes)
            {
                long layerBytes = layer.Sum(s => GgmlTypes.ByteCount(type, (long)s.Out * s.In));
                int layers = (int)Math.Max(1, (megabytes * 1_000_000 + layerBytes - 1) / layerBytes);
                long bytes = layerBytes * layers;
                byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                Fill(w, bytes, type, bytes / GgmlTypes.TypeSize(type) * GgmlTypes.BlockSize(type));
                foreach (int threads in threadList)
                {
                    using var pool = new WorkerPool(threads);
                    double s = Seconds(() =>
                    {
                        byte* p = w;
                        for (int l = 0; l < layers; l++)
                            foreach (var (o, i) in layer)
                            {
                                QuantMatMul.Forward(y, x, 1, p, type, o, i, pool);
                                p += GgmlTypes.ByteCount(type, (long)o * i);
                            }
                    }, threads);
                    double weights = bytes / (double)GgmlTypes.TypeSize(type) * GgmlTypes.BlockSize(type);
                    Console.WriteLine($"{type,-5} stream {name,-12} {bytes / 1e6,5:F0} MB {threads}T  {bytes / s / 1e9,6:F1} GB/s  {weights / s / 1e9,6:F1} G weights/s");
                }
                NativeMemory.AlignedFree(w);
            }
        NativeMemory.AlignedFree(x);
        NativeMemory.AlignedFree(y);
        return 0;
    }

    private struct Empty : IWorkerTask
    {
        public readonly void Run(int index) { }
    }

    /// <summary>Round trip of an empty two-item loop: the per-call cost a decode step pays for every parallel kernel.</summary>
    private static void Dispatch()
    {
        using var pool = new WorkerPool(2);
        var empty = new Empty();
        const int n = 200_000;
        double best = double.MaxValue, bestParallel = double.MaxValue;
        for (int rep = 0; rep < 5; rep++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < n; i++) pool.For(2, ref empty);
            best = Math.Min(best, sw.Elapsed.TotalSeconds / n);
            sw.Restart();
            for (int i = 0; i < n / 10; i++) Parallel.For(0, 2, _ => { });
            bestParallel = Math.Min(bestParallel, sw.Elapsed.TotalSeconds / (n / 10));
        }
        Console.WriteLine($"dispatch: WorkerPool.For(2) {best * 1e6:F2} µs, Parallel.For(0, 2) {bestParallel * 1e6:F2} µs per empty loop");
    }

    private static double Seconds(Action run, int threads = 1)
    {
        run(); // warm-up: JIT tiers, scratch buffers
        double best = double.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (int rep = 0; rep < (s_cpuTime ? 5 : 3); rep++)
        {
            int iters = 0;
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            do { run(); iters++; } while (sw.Elapsed.TotalSeconds < s_minSeconds);
            double wall = sw.Elapsed.TotalSeconds;
            process.Refresh();
            double seconds = s_cpuTime ? (process.TotalProcessorTime - cpu0).TotalSeconds / threads : wall;
            best = Math.Min(best, seconds / iters);
        }
        return best;
    }

    /// <summary>Random valid weights: random codes, plausible fp16 scales; finite values for the float types.</summary>
    private static void Fill(byte* w, long bytes, GgmlType type, long elements)
    {
        var rng = new Random(2);
        for (long o = 0; o < bytes; o += int.MaxValue) rng.NextBytes(new Span<byte>(w + o, (int)Math.Min(int.MaxValue, bytes - o)));
        switch (type)
        {
            case GgmlType.F32:
                for (long i = 0; i < elements; i++) ((float*)w)[i] = (float)(rng.NextDouble() - 0.5);
                return;
            case GgmlType.F16:
                for (long i = 0; i < elements; i++) ((Half*)w)[i] = (Half)(rng.NextDouble() - 0.5);
                return;
            case GgmlType.BF16:
                for (long i = 0; i < elements; i++) ((ushort*)w)[i] = GgmlQuants.SingleToBFloat16((float)(rng.NextDouble() - 0.5));
                return;
        }
        int ts = GgmlTypes.TypeSize(type);
        int scaleOffset = type == GgmlType.Q6_K ? 208 : 0;
        bool hasMin = type is GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K;
        for (long b = 0; b < bytes / ts; b++)
        {
            BinaryPrimitives.WriteHalfLittleEndian(new Span<byte>(w + b * ts + scaleOffset, 2), (Half)0.01f);
            if (hasMin) BinaryPrimitives.WriteHalfLittleEndian(new Span<byte>(w + b * ts + 2, 2), (Half)0.005f);
        }
    }

    private static string CpuModel()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
