using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using Elongate.Kernels;

namespace Elongate.Bench.LlamaBench;

/// <summary>
/// The two ceilings the engine numbers are read against, measured in the same run with the same thread count:
/// memory bandwidth (a read-only stream over a buffer far larger than the last-level cache, best of several passes;
/// token generation streams every weight once per token, so it cannot beat this) and the sgemm peak (our
/// <see cref="Gemm"/> on square fp32 matrices as GemmBench times it; prompt processing is matrix products, so this
/// is its practical ceiling).
/// </summary>
internal static unsafe class MachineLimits
{
    public static JsonObject Measure(ChildJob job)
    {
        double bandwidth = Bandwidth(job.BandwidthBytes, job.Threads, passes: 5);
        double gflops = SgemmPeak(job.GemmSize, job.Threads, reps: 3);
        return new JsonObject
        {
            ["engine"] = "limits",
            ["threads"] = job.Threads,
            ["bandwidthBytes"] = job.BandwidthBytes,
            ["bandwidthGBs"] = bandwidth,
            ["gemmSize"] = job.GemmSize,
            ["gemmIsa"] = Gemm.BestIsa.ToString(),
            ["sgemmGflops"] = gflops,
        };
    }

    /// <summary>GB/s (10⁹ bytes) of <paramref name="threads"/> threads each reading its slice of a buffer once.</summary>
    private static double Bandwidth(long bytes, int threads, int passes)
    {
        bytes = bytes / (128L * threads) * 128L * threads; // whole 128-byte steps per thread
        byte* buffer = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            // Written first so every page is resident and backed by distinct memory (untouched pages all map the zero page).
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                long slice = bytes / threads;
                for (long o = 0; o < slice; o += int.MaxValue / 2)
                    new Span<byte>(buffer + t * slice + o, (int)Math.Min(int.MaxValue / 2, slice - o)).Fill((byte)(t + 1));
            });
            double best = double.MaxValue;
            long sink = 0;
            for (int p = 0; p < passes; p++)
            {
                var sw = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    long slice = bytes / threads;
                    Interlocked.Add(ref sink, Sum(buffer + t * slice, slice));
                });
                best = Math.Min(best, sw.Elapsed.TotalSeconds);
            }
            GC.KeepAlive(sink);
            return bytes / best / 1e9;
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    /// <summary>Reads <paramref name="n"/> bytes (a multiple of 128) with four independent 256-bit accumulators.</summary>
    private static long Sum(byte* p, long n)
    {
        Vector256<long> a = default, b = default, c = default, d = default;
        for (long i = 0; i < n; i += 128)
        {
            a += Vector256.Load((long*)(p + i));
            b += Vector256.Load((long*)(p + i + 32));
            c += Vector256.Load((long*)(p + i + 64));
            d += Vector256.Load((long*)(p + i + 96));
        }
        return Vector256.Sum(a + b + c + d);
    }

    /// <summary>GFLOP/s of our fp32 GEMM, C = A·B at n × n × n (best of <paramref name="reps"/> after a warm-up).</summary>
    private static double SgemmPeak(int n, int threads, int reps)
    {
        var rng = new Random(1);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)(rng.NextDouble() * 2 - 1); b[i] = (float)(rng.NextDouble() * 2 - 1); }
        void Once() => Gemm.Multiply(GemmTranspose.None, GemmTranspose.None, n, n, n, 1f, a, n, b, n, 0f, c, n, GemmIsa.Auto, threads);
        Once();
        double best = double.MaxValue;
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew();
            Once();
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}
