using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Elongate.Kernels;

namespace Elongate.Bench;

/// <summary>
/// `gemm` subcommand: our <see cref="Gemm"/> against OpenBLAS cblas_sgemm in the same process, same inputs, same thread
/// counts, interleaved repetitions (medians), so the ratio is measured under the same machine load. With
/// <c>--precision bf16</c> each repetition also times our bf16-input path (<see cref="GemmPrecision.Bf16"/>), and every
/// result is compared with an fp64 reference on sampled elements.
/// </summary>
internal static unsafe class GemmBench
{
    private sealed record Case(string Name, GemmTranspose TA, GemmTranspose TB, int M, int N, int K);

    private sealed record Row(string Case, string Op, int M, int N, int K, int Threads, double OursGflops,
        double? OpenBlasGflops, double? Ratio, double? MaxRelDiff)
    {
        /// <summary>Our bf16-input path (null unless --precision bf16).</summary>
        public double? Bf16Gflops { get; init; }
        /// <summary>bf16 GF/s over our fp32 GF/s.</summary>
        public double? Bf16OverFp32 { get; init; }
        /// <summary>Max |C − C₆₄| / max |C₆₄| over the sampled elements, for ours fp32, ours bf16, OpenBLAS.</summary>
        public double? Fp32ErrVsFp64 { get; init; }
        public double? Bf16ErrVsFp64 { get; init; }
        public double? OpenBlasErrVsFp64 { get; init; }
    }

    /// <summary>Elements of C compared with the fp64 reference (a full fp64 product of the 4096³ cases would take minutes).</summary>
    private const int ReferenceSamples = 512;

    public static int Run(string[] args)
    {
        string? outPath = null;
        int reps = 5;
        int[] sizes = [256, 512, 1024, 2048, 4096];
        bool quick = false;
        int[]? threadList = null;
        var isa = GemmIsa.Auto;
        var precision = GemmPrecision.Fp32;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": outPath = args[++i]; break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--sizes": sizes = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--quick": quick = true; break;
                case "--isa": isa = Enum.Parse<GemmIsa>(args[++i], ignoreCase: true); break;
                case "--precision": precision = Enum.Parse<GemmPrecision>(args[++i], ignoreCase: true); break;
                case "--threads": threadList = args[++i].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: gemm [--out file.json] [--reps N] [--sizes 256,512,...] [--threads 1,2] [--isa auto|avx512|avx2|scalar] [--precision fp32|bf16] [--quick]");
                    return 2;
            }
        }

        var cases = new List<Case>();
        foreach (int s in sizes)
        {
            cases.Add(new($"square {s}", GemmTranspose.None, GemmTranspose.None, s, s, s));
            cases.Add(new($"square {s}", GemmTranspose.None, GemmTranspose.Transpose, s, s, s));
        }
        if (!quick)
        {
            // A training step of a 512-wide model over 4096 tokens: forward y = x·Wᵀ, input gradient dX = dY·W,
            // weight gradient dW = dYᵀ·X.
            cases.Add(new("train fwd x·Wᵀ", GemmTranspose.None, GemmTranspose.Transpose, 4096, 1536, 512));
            cases.Add(new("train dX=dY·W", GemmTranspose.None, GemmTranspose.None, 4096, 512, 1536));
            cases.Add(new("train dW=dYᵀ·X", GemmTranspose.Transpose, GemmTranspose.None, 1536, 512, 4096));
            cases.Add(new("decode batch 4", GemmTranspose.None, GemmTranspose.Transpose, 4, 4096, 4096));
            cases.Add(new("gemv(sgemv ref)", GemmTranspose.None, GemmTranspose.Transpose, 1, 4096, 4096));
        }

        bool haveBlas = OpenBlas.TryLoad(out string blasError);
        string coretype = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "(unset)";
        string l2 = Environment.GetEnvironmentVariable("OPENBLAS_L2_SIZE") ?? "(unset)";
        string blasDesc = haveBlas ? $"{OpenBlas.Config} | core {OpenBlas.CoreName}" : $"NOT AVAILABLE ({blasError}); install libopenblas0-pthread";
        int cores = Environment.ProcessorCount;
        var blocking = Gemm.Blocking(isa);
        bool bf16 = precision == GemmPrecision.Bf16;
        Console.WriteLine($"CPU: {CpuInfo.Current}");
        Console.WriteLine($"our plan: {blocking}");
        if (bf16)
        {
            Console.WriteLine($"our bf16 plan: {Gemm.Blocking(isa, GemmPrecision.Bf16)}");
            Console.WriteLine("bf16 = inputs rounded to bfloat16 while packing, widened in the kernel, fp32 accumulation (emulated: .NET exposes no AVX-512-BF16 instruction)");
            Console.WriteLine($"errors: max |C − C_fp64| / max |C_fp64| over {ReferenceSamples} sampled elements");
        }
        Console.WriteLine($"OpenBLAS: {blasDesc}");
        Console.WriteLine($"OPENBLAS_CORETYPE={coretype} OPENBLAS_L2_SIZE={l2}; median of {reps} interleaved repetitions (ours, OpenBLAS, ours, …), each after the process is idle; load average {MachineInfo.LoadAverage()}");
        if (!haveBlas) Console.WriteLine("OpenBLAS library libopenblas.so.0 is missing: reporting our numbers only.");
        Console.WriteLine();
        if (bf16)
            Console.WriteLine($"{"case",-18} {"op",-3} {"M",5} {"N",5} {"K",5} {"thr",3} {"fp32 GF/s",10} {"bf16 GF/s",10} {"OpenBLAS",10} {"bf16/fp32",9} {"fp32/BLAS",9} {"err fp32",9} {"err bf16",9} {"err BLAS",9}");
        else
            Console.WriteLine($"{"case",-18} {"op",-3} {"M",5} {"N",5} {"K",5} {"thr",3} {"ours GF/s",10} {"OpenBLAS",10} {"ratio",6} {"max rel diff",12}");

        var rows = new List<Row>();
        var settleWaits = new List<double>();
        var threadCounts = threadList ?? (cores > 1 ? new[] { 1, cores } : new[] { 1 });
        foreach (var cs in cases)
        {
            bool ta = cs.TA == GemmTranspose.Transpose, tb = cs.TB == GemmTranspose.Transpose;
            int lda = ta ? cs.M : cs.K, ldb = tb ? cs.K : cs.N;
            var a = Random((long)cs.M * cs.K, 1);
            var b = Random((long)cs.K * cs.N, 2);
            var c1 = new float[(long)cs.M * cs.N];
            var c2 = new float[(long)cs.M * cs.N];
            var c3 = bf16 ? new float[(long)cs.M * cs.N] : [];
            var samples = bf16 ? ReferenceSample(cs, a, lda, b, ldb) : default;
            double flops = 2.0 * cs.M * cs.N * cs.K;
            string op = (ta ? "T" : "N") + (tb ? "T" : "N");
            foreach (int thr in threadCounts)
            {
                void Ours() => Gemm.Multiply(cs.TA, cs.TB, cs.M, cs.N, cs.K, 1f, a, lda, b, ldb, 0f, c1, cs.N, isa, thr);
                void Ours16() => Gemm.Multiply(cs.TA, cs.TB, cs.M, cs.N, cs.K, 1f, a, lda, b, ldb, 0f, c3, cs.N, isa, thr, GemmPrecision.Bf16);
                void Blas()
                {
                    fixed (float* pa = a, pb = b, pc = c2)
                        if (cs.M == 1 && tb) // OpenBLAS 0.3.21's sgemm does not route one-row products to its GEMV: call it directly
                            OpenBlas.cblas_sgemv(OpenBlas.RowMajor, OpenBlas.NoTrans, cs.N, cs.K, 1f, pb, ldb, pa, 1, 0f, pc, 1);
                        else
                            OpenBlas.cblas_sgemm(OpenBlas.RowMajor, ta ? OpenBlas.Trans : OpenBlas.NoTrans, tb ? OpenBlas.Trans : OpenBlas.NoTrans,
                            cs.M, cs.N, cs.K, 1f, pa, lda, pb, ldb, 0f, pc, cs.N);
                }
                if (haveBlas) OpenBlas.openblas_set_num_threads(thr);
                // Enough inner calls that each timed sample is ≥ ~50 ms even for small shapes.
                int inner = (int)Math.Clamp(5e9 / flops, 1, 10000);
                var times = new List<double>();
                var blasTimes = new List<double>();
                var times16 = new List<double>();
                Ours(); if (haveBlas) Blas();
                if (bf16) Ours16();
                for (int r = 0; r < reps; r++)
                {
                    if (haveBlas) settleWaits.Add(Settle());
                    times.Add(Time(Ours, inner));
                    if (bf16)
                    {
                        if (haveBlas) settleWaits.Add(Settle());
                        times16.Add(Time(Ours16, inner));
                    }
                    if (haveBlas)
                    {
                        settleWaits.Add(Settle());
                        blasTimes.Add(Time(Blas, inner));
                    }
                }
                // Medians, not minima: on a machine shared with other jobs the median of interleaved samples is the
                // fairer comparison (both sides see the same load), and the ratio is what the results report.
                double best = Median(times), bestBlas = haveBlas ? Median(blasTimes) : double.NaN;
                double ours = flops / best / 1e9;
                double? blas = haveBlas ? flops / bestBlas / 1e9 : null;
                double? diff = haveBlas ? MaxRelDiff(c1, c2) : null;
                var row = new Row(cs.Name, op, cs.M, cs.N, cs.K, thr, ours, blas, blas is null ? null : ours / blas, diff);
                if (bf16)
                {
                    double ours16 = flops / Median(times16) / 1e9;
                    row = row with
                    {
                        Bf16Gflops = ours16, Bf16OverFp32 = ours16 / ours, Fp32ErrVsFp64 = SampledError(c1, cs.N, samples),
                        Bf16ErrVsFp64 = SampledError(c3, cs.N, samples), OpenBlasErrVsFp64 = haveBlas ? SampledError(c2, cs.N, samples) : null,
                    };
                    Console.WriteLine($"{cs.Name,-18} {op,-3} {cs.M,5} {cs.N,5} {cs.K,5} {thr,3} {ours,10:F1} {ours16,10:F1} {Fmt(blas, "F1"),10} {Fmt(row.Bf16OverFp32, "F2"),9} "
                        + $"{Fmt(row.Ratio, "F2"),9} {Fmt(row.Fp32ErrVsFp64, "E1"),9} {Fmt(row.Bf16ErrVsFp64, "E1"),9} {Fmt(row.OpenBlasErrVsFp64, "E1"),9}");
                }
                else
                    Console.WriteLine($"{cs.Name,-18} {op,-3} {cs.M,5} {cs.N,5} {cs.K,5} {thr,3} {ours,10:F1} {Fmt(blas, "F1"),10} {Fmt(row.Ratio, "F2"),6} {Fmt(diff, "E1"),12}");
                rows.Add(row);
            }
        }

        if (settleWaits.Count > 0)
            Console.WriteLine($"settle before each sample: median {Median(settleWaits) * 1e3:F0} ms, max {settleWaits.Max() * 1e3:F0} ms (cap {SettleCapSeconds * 1e3:F0} ms)");

        if (outPath is not null)
        {
            var doc = new
            {
                cpu = MachineInfo.CpuName(), cpuDetail = CpuInfo.Current.ToString(), logicalCores = cores,
                ourIsa = (isa == GemmIsa.Auto ? Gemm.BestIsa : isa).ToString(),
                precision = precision.ToString().ToLowerInvariant(),
                bf16Blocking = bf16 ? Gemm.Blocking(isa, GemmPrecision.Bf16).ToString() : null,
                errorMeasure = bf16 ? $"max |C - C_fp64| / max |C_fp64| over {ReferenceSamples} sampled elements" : null,
                blocking = new { blocking.MR, blocking.NR, blocking.MC, blocking.KC, blocking.NC, blocking.Origin, caches = blocking.Caches.ToString() },
                statistic = "median",
                settle = "each sample starts once the process has used < 1 ms of CPU in a 10 ms window (OpenBLAS's workers spin ~0.1 s after each call)",
                settleMedianMs = settleWaits.Count > 0 ? Median(settleWaits) * 1e3 : 0,
                loadAverage = MachineInfo.LoadAverage(),
                openBlas = haveBlas ? new { config = OpenBlas.Config, core = OpenBlas.CoreName } : null,
                openBlasMissing = haveBlas ? null : blasError,
                openblasCoretype = coretype, openblasL2Size = l2, reps, timestampUtc = DateTime.UtcNow,
                results = rows,
            };
            string tmp = outPath + ".tmp";
            File.WriteAllText(tmp, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
            File.Move(tmp, outPath, overwrite: true);
            Console.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    private const double SettleCapSeconds = 1.0;

    /// <summary>
    /// Waits until this process is idle: OpenBLAS's pthread workers keep spinning (sched_yield) for about 2^28 TSC ticks
    /// (~0.1 s) after every call, so a sample of ours timed right after an OpenBLAS sample shared one of the two cores
    /// with that spinner — two-thread ratios swung from 0.5 to 1.5 between runs. Our pool spins 200 µs, so the wait is
    /// applied before both sides' samples. Returns the seconds waited.
    /// </summary>
    private static double Settle()
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed.TotalSeconds < SettleCapSeconds)
        {
            var cpu0 = Environment.CpuUsage.TotalTime;
            Thread.Sleep(10);
            if ((Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds < 1) break;
        }
        return sw.Elapsed.TotalSeconds;
    }

    /// <summary>fp64 values of <see cref="ReferenceSamples"/> elements of op(A)·op(B) at seeded random positions.</summary>
    private static (int[] I, int[] J, double[] V) ReferenceSample(Case cs, float[] a, int lda, float[] b, int ldb)
    {
        bool ta = cs.TA == GemmTranspose.Transpose, tb = cs.TB == GemmTranspose.Transpose;
        var rng = new Random(3);
        int count = Math.Min(ReferenceSamples, cs.M * cs.N);
        var (ii, jj, vv) = (new int[count], new int[count], new double[count]);
        for (int s = 0; s < count; s++)
        {
            int i = rng.Next(cs.M), j = rng.Next(cs.N);
            double sum = 0;
            for (int p = 0; p < cs.K; p++)
                sum += (double)(ta ? a[(long)p * lda + i] : a[(long)i * lda + p]) * (tb ? b[(long)j * ldb + p] : b[(long)p * ldb + j]);
            (ii[s], jj[s], vv[s]) = (i, j, sum);
        }
        return (ii, jj, vv);
    }

    private static double SampledError(float[] c, int ldc, (int[] I, int[] J, double[] V) r)
    {
        double maxAbs = 0, maxDiff = 0;
        for (int s = 0; s < r.V.Length; s++)
        {
            maxAbs = Math.Max(maxAbs, Math.Abs(r.V[s]));
            maxDiff = Math.Max(maxDiff, Math.Abs(c[(long)r.I[s] * ldc + r.J[s]] - r.V[s]));
        }
        return maxAbs == 0 ? maxDiff : maxDiff / maxAbs;
    }

    private static string Fmt(double? v, string f) => v is null ? "-" : v.Value.ToString(f, CultureInfo.InvariantCulture);

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double Time(Action f, int inner)
    {
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < inner; i++) f();
        return sw.Elapsed.TotalSeconds / inner;
    }

    private static float[] Random(long n, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (long i = 0; i < n; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
        return x;
    }

    private static double MaxRelDiff(float[] x, float[] y)
    {
        double maxAbs = 0, maxDiff = 0;
        for (long i = 0; i < x.Length; i++)
        {
            maxAbs = Math.Max(maxAbs, Math.Abs(y[i]));
            maxDiff = Math.Max(maxDiff, Math.Abs(x[i] - y[i]));
        }
        return maxAbs == 0 ? maxDiff : maxDiff / maxAbs;
    }
}
