using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Elongate.Kernels;

namespace Elongate.Bench;

/// <summary>
/// Causal FlashAttention forward and backward alone, against the GEMM rate measured in the same run:
/// `-- attention [--seq 1024,4096] [--batch 1] [--heads 8] [--kv-heads 1,8] [--head-dim 64] [--tile N (default FlashAttention.TrainingTileSize(T))] [--reps 3]
/// [--fwd-only-from 16384] [--out attention.json]`. FLOPs count the useful causal work, as MFU does: forward
/// 2·(QKᵀ + PV) = 4·B·H·T²/2·d, backward 2.5× that (dV, dP, dS·K, dSᵀ·Q, and the recomputation of S), the
/// FlashAttention-2 convention. The reference rate is our sgemm on a training-shaped product (x·Wᵀ, 4096×1536×512, all
/// cores), timed between the attention repetitions so both see the same machine load; times are medians.
/// </summary>
internal static class AttentionBench
{
    public static int Run(string[] args)
    {
        int[] seqs = [1024, 4096];
        int[] kvHeadsList = [1, 8];
        int batch = 1, heads = 8, hd = 64, reps = 3, fwdOnlyFrom = int.MaxValue, tileOption = 0;
        string? outPath = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seq": seqs = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--heads": heads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--kv-heads": kvHeadsList = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--head-dim": hd = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--fwd-only-from": fwdOnlyFrom = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--tile": tileOption = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": outPath = args[++i]; break;
                default: Console.Error.WriteLine($"attention bench: unknown option {args[i]}"); return 2;
            }
        }
        Console.WriteLine($"CPU: {CpuInfo.Current}");
        Console.WriteLine($"load average {MachineInfo.LoadAverage()}; B {batch}, {heads} heads × {hd}, tile {(tileOption > 0 ? tileOption.ToString(CultureInfo.InvariantCulture) : "FlashAttention.TrainingTileSize(T)")}; medians of {reps}; GEMM = sgemm 4096×1536×512 NT, same run");
        Console.WriteLine($"{"T",6} {"kv",3} {"tile",4} {"fwd ms",9} {"fwd GF/s",9} {"bwd ms",9} {"bwd GF/s",9} {"GEMM GF/s",10} {"fwd/GEMM",9} {"bwd/GEMM",9}");
        var gemm = GemmProbe();
        var rows = new List<object>();
        foreach (int T in seqs)
            foreach (int kvHeads in kvHeadsList)
            {
                int tile = tileOption > 0 ? tileOption : FlashAttention.TrainingTileSize(T);
                var rng = new Random(1);
                var shape = new AttentionShape(batch, T, heads, kvHeads, hd);
                long nq = (long)batch * T * heads * hd, nkv = (long)batch * T * kvHeads * hd;
                float[] Rand(long n) { var x = new float[n]; for (long j = 0; j < n; j++) x[j] = (float)(rng.NextDouble() - 0.5); return x; }
                float[] q = Rand(nq), k = Rand(nkv), v = Rand(nkv), dOut = Rand(nq), o = new float[nq], lse = new float[batch * heads * T];
                float[] dq = new float[nq], dk = new float[nkv], dv = new float[nkv];
                double flops = 4.0 * batch * heads * T * (T + 1) / 2.0 * hd;
                bool doBwd = T < fwdOnlyFrom;
                var fwd = new List<double>(); var bwd = new List<double>(); var gemmRates = new List<double>();
                for (int r = 0; r <= reps; r++)
                {
                    var sw = Stopwatch.StartNew();
                    FlashAttention.Forward<float>(o, lse, q, k, v, shape, default, tile);
                    double f = sw.Elapsed.TotalSeconds;
                    double b = 0;
                    if (doBwd)
                    {
                        sw.Restart();
                        FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape, default, tile);
                        b = sw.Elapsed.TotalSeconds;
                    }
                    double g = gemm();
                    if (r > 0) { fwd.Add(f); bwd.Add(b); gemmRates.Add(g); } // run 0 warms up
                }
                double fm = Median(fwd), bm = Median(bwd), gm = Median(gemmRates);
                double fr = flops / fm / 1e9, br = doBwd ? 2.5 * flops / bm / 1e9 : double.NaN;
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{T,6} {kvHeads,3} {tile,4} {fm * 1e3,9:F1} {fr,9:F1} {(doBwd ? (bm * 1e3).ToString("F1", CultureInfo.InvariantCulture) : "-"),9} {(doBwd ? br.ToString("F1", CultureInfo.InvariantCulture) : "-"),9} {gm,10:F1} {fr / gm,9:P0} {(doBwd ? (br / gm).ToString("P0", CultureInfo.InvariantCulture) : "-"),9}"));
                rows.Add(new { seq_len = T, tile, batch, heads, kv_heads = kvHeads, head_dim = hd, fwd_ms = fm * 1e3, fwd_gflops = fr,
                    bwd_ms = doBwd ? bm * 1e3 : (double?)null, bwd_gflops = doBwd ? br : (double?)null, gemm_gflops = gm });
            }
        if (outPath is not null)
        {
            var json = JsonSerializer.Serialize(new { cpu = CpuInfo.Current.ToString(), load_average = MachineInfo.LoadAverage(), statistic = "median", reps, runs = rows },
                new JsonSerializerOptions { WriteIndented = true });
            File.WriteAllText(outPath + ".tmp", json);
            File.Move(outPath + ".tmp", outPath, overwrite: true);
            Console.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    /// <summary>A closure that times one training-shaped sgemm on all cores and returns its GFLOP/s.</summary>
    private static Func<double> GemmProbe()
    {
        const int m = 4096, n = 1536, kk = 512;
        var rng = new Random(2);
        float[] a = new float[m * kk], w = new float[n * kk], c = new float[m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < w.Length; i++) w[i] = (float)rng.NextDouble() - 0.5f;
        Gemm.NT(c, a, w, m, n, kk);
        return () =>
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 3; i++) Gemm.NT(c, a, w, m, n, kk);
            return 3 * 2.0 * m * n * kk / sw.Elapsed.TotalSeconds / 1e9;
        };
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}
