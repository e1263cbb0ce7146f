using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Elongate.Training;

namespace Elongate.Bench;

/// <summary>
/// Training throughput and model-FLOPs utilisation (MFU) of a ~20M-parameter model, against the machine's sgemm
/// peak measured in the same run (OpenBLAS when installed, and our own GEMM): `-- train [--seq 256,1024]
/// [--steps 3] [--preset 20m] [--tokens 4096] [--out train.json]`.
/// Model FLOPs per token follow PaLM (Chowdhery et al. 2022, appendix B): 6·N for the matmuls of forward + backward
/// (N = non-embedding parameters plus the output head) plus 6·L·T·d for attention scores and values (causal: half of
/// the 12·L·T·d full-matrix count). MFU = achieved model FLOP/s ÷ peak sgemm FLOP/s on all cores; "MFU(probe)" divides by the median of sgemm probes
/// timed right after each step instead, i.e. under the same machine load (step time: the median over steps).
/// <c>--precision bf16</c> trains a second model, identical but for bf16 linear-layer GEMM inputs
/// (<see cref="LlamaTrainingModel{T}.MatmulPrecision"/>), alternating steps with the fp32 one so both see the same load;
/// MFU there still counts the same model FLOPs against the fp32 sgemm peak.
/// </summary>
internal static class TrainBench
{
    public static int Run(string[] args)
    {
        int[] seqs = [256, 1024];
        int steps = 3, tokens = 4096;
        string preset = "20m";
        string? outPath = null;
        var precisions = new List<Kernels.GemmPrecision> { Kernels.GemmPrecision.Fp32 };
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seq": seqs = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--steps": steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--tokens": tokens = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--preset": preset = args[++i]; break;
                case "--out": outPath = args[++i]; break;
                case "--precision":
                    var p = Enum.Parse<Kernels.GemmPrecision>(args[++i], ignoreCase: true);
                    if (p != Kernels.GemmPrecision.Fp32) precisions.Add(p);
                    break;
                default: Console.Error.WriteLine($"train bench: unknown option {args[i]}"); return 2;
            }
        }

        Console.WriteLine($"CPU: {Kernels.CpuInfo.Current}");
        Console.WriteLine($"GEMM plan: {Kernels.Gemm.Blocking()}; load average {MachineInfo.LoadAverage()}");
        // Peak: square sgemm on all cores, the best of n = 1024 and 2048 (best of 3 runs each) — the higher the
        // peak, the more conservative the MFU.
        int[] sizes = [1024, 2048];
        int n = sizes[^1];
        double oursPeak = sizes.Max(m => SgemmGflops((a, b, c) => Kernels.Gemm.NN(c, a, b, m, m, m), m));
        double? blasPeak = null;
        string blasCore = "not installed";
        if (OpenBlas.TryLoad(out var why))
        {
            unsafe
            {
                blasPeak = sizes.Max(m => SgemmGflops((a, b, c) =>
                {
                    fixed (float* pa = a, pb = b, pc = c)
                        OpenBlas.cblas_sgemm(OpenBlas.RowMajor, OpenBlas.NoTrans, OpenBlas.NoTrans, m, m, m, 1f, pa, m, pb, m, 0f, pc, m);
                }, m));
            }
            blasCore = OpenBlas.CoreName;
        }
        else Console.Error.WriteLine($"OpenBLAS not available ({why}); MFU is against our own GEMM's peak only");
        double peak = Math.Max(oursPeak, blasPeak ?? 0);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"sgemm peak (n = 1024, 2048) on {Environment.ProcessorCount} cores: ours {oursPeak:F0} GFLOP/s, OpenBLAS ({blasCore}) {(blasPeak is { } bp ? bp.ToString("F0", CultureInfo.InvariantCulture) : "-")} GFLOP/s; peak used {peak:F0}"));

        var probe = new float[3][];
        var rows = new List<object>();
        if (precisions.Count > 1) Console.WriteLine($"bf16 GEMM plan: {Kernels.Gemm.Blocking(precision: Kernels.GemmPrecision.Bf16)}");
        Console.WriteLine($"{"preset",-7}{"prec",5}{"T",6}{"B",4}{"params",12}{"tok/s",10}{"GFLOP/s",10}{"MFU",8}{"peak MiB",10}{"probe GF/s",12}{"MFU(probe)",12}{"last loss",10}");
        foreach (int T in seqs)
        {
            int batch = Math.Max(1, tokens / T);
            var config = ModelPresets.Create(preset, 512, T);
            var models = precisions.Select(p =>
            {
                var m = new LlamaTrainingModel<float>(config, batch, T) { MatmulPrecision = p };
                m.InitializeRandom(1);
                return (Model: m, Adam: new AdamW(m));
            }).ToArray();
            var rng = new Random(1);
            var ids = Enumerable.Range(0, batch * (T + 1)).Select(_ => rng.Next(config.VocabSize)).ToArray();
            var inputs = new int[batch * T];
            var targets = new int[batch * T];
            for (int b = 0; b < batch; b++)
            {
                ids.AsSpan(b * (T + 1), T).CopyTo(inputs.AsSpan(b * T));
                ids.AsSpan(b * (T + 1) + 1, T).CopyTo(targets.AsSpan(b * T));
            }
            var losses = new float[models.Length];
            void Step(int i)
            {
                var (model, adam) = models[i];
                model.ZeroGrad();
                losses[i] = model.Forward(inputs, targets);
                model.Backward();
                adam.Step(model.Parameters, model.Gradients, 1e-4f);
            }
            for (int i = 0; i < models.Length; i++) Step(i); // warm-up: JIT and first-touch of buffers
            // Each step is followed by one sgemm probe (ours, n = 2048, all cores) so that a second MFU, against the
            // sgemm rate under the same machine load, can be formed from medians (the machine is shared). With two
            // precisions their steps alternate, so both meet the same load.
            var stepTimes = models.Select(_ => new List<double>()).ToArray();
            var probes = new List<double>();
            for (int s = 0; s < steps; s++)
                for (int i = 0; i < models.Length; i++)
                {
                    var sw = Stopwatch.StartNew();
                    Step(i);
                    stepTimes[i].Add(sw.Elapsed.TotalSeconds);
                    probes.Add(SgemmOnce(probe, 2048));
                }
            for (int i = 0; i < models.Length; i++)
            {
                var model = models[i].Model;
                string prec = precisions[i].ToString().ToLowerInvariant();
                double seconds = Median(stepTimes[i]);
                long embedding = (long)config.VocabSize * config.HiddenSize;
                long n6 = model.Parameters.LongLength - (config.TieWordEmbeddings ? 0 : embedding); // the input embedding is a lookup, not a matmul
                double flopsPerToken = 6.0 * n6 + 6.0 * config.NumLayers * T * config.HiddenSize;
                double tokPerSec = batch * T / seconds;
                double gflops = tokPerSec * flopsPerToken / 1e9;
                double mfu = gflops / peak;
                double probePeak = Median(probes), mfuSameLoad = gflops / probePeak;
                long peakMiB = Process.GetCurrentProcess().PeakWorkingSet64 >> 20;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{preset,-7}{prec,5}{T,6}{batch,4}{model.Parameters.LongLength,12:N0}{tokPerSec,10:F0}{gflops,10:F1}{mfu,8:P1}{peakMiB,10}{probePeak,12:F0}{mfuSameLoad,12:P1}{losses[i],10:F4}"));
                rows.Add(new { preset, precision = prec, seq_len = T, batch, parameters = model.Parameters.LongLength, tokens_per_second = tokPerSec, model_gflops = gflops, mfu, sgemm_probe_gflops = probePeak, mfu_vs_probe = mfuSameLoad, peak_working_set_mib = peakMiB, last_step_loss = losses[i], steps = steps + 1 });
            }
            if (models.Length > 1)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  T {T}: bf16/fp32 tok/s ratio {Median(stepTimes[0]) / Median(stepTimes[1]):F2}, loss after {steps + 1} steps Δ {losses[1] - losses[0]:E2}"));
        }
        if (outPath is not null)
        {
            var json = JsonSerializer.Serialize(new { cpu = Kernels.CpuInfo.Current.ToString(), load_average = MachineInfo.LoadAverage(), cores = Environment.ProcessorCount, sgemm_n = n, ours_gflops = oursPeak, openblas_gflops = blasPeak, openblas_core = blasCore, peak_gflops = peak, runs = rows },
                new JsonSerializerOptions { WriteIndented = true });
            File.WriteAllText(outPath + ".tmp", json);
            File.Move(outPath + ".tmp", outPath, overwrite: true);
        }
        return 0;
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>One timed n×n×n sgemm (ours, all cores) on buffers kept in <paramref name="buffers"/> between calls.</summary>
    private static double SgemmOnce(float[][] buffers, int n)
    {
        if (buffers[0] is null || buffers[0].Length != n * n)
        {
            var rng = new Random(4);
            for (int i = 0; i < 3; i++)
            {
                buffers[i] = new float[n * n];
                for (int j = 0; j < buffers[i].Length; j++) buffers[i][j] = (float)rng.NextDouble() - 0.5f;
            }
            Kernels.Gemm.NN(buffers[2], buffers[0], buffers[1], n, n, n);
        }
        var sw = Stopwatch.StartNew();
        Kernels.Gemm.NN(buffers[2], buffers[0], buffers[1], n, n, n);
        return 2.0 * n * n * n / sw.Elapsed.TotalSeconds / 1e9;
    }

    private static double SgemmGflops(Action<float[], float[], float[]> gemm, int n)
    {
        var rng = new Random(3);
        float[] a = new float[n * n], b = new float[n * n], c = new float[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble() - 0.5f; b[i] = (float)rng.NextDouble() - 0.5f; }
        gemm(a, b, c);
        double best = double.MaxValue;
        for (int r = 0; r < 3; r++)
        {
            var sw = Stopwatch.StartNew();
            gemm(a, b, c);
            best = Math.Min(best, sw.Elapsed.TotalSeconds);
        }
        return 2.0 * n * n * n / best / 1e9;
    }
}
