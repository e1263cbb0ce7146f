using System.Diagnostics;
using System.Globalization;
using Elongate.Training;
using Elongate.Kernels;

namespace Elongate.Bench;

/// <summary>
/// Causal FlashAttention forward and backward alone: `-- attention [--seq 256,1024,4096] [--batch 4] [--heads 8]
/// [--head-dim 64] [--reps 3]`. FLOPs count the useful causal work, as MFU does: forward 2·(QKᵀ + PV) = 4·B·H·T²/2·d,
/// backward 2.5× that (dV, dP, dS·K, dSᵀ·Q, and PV's recomputation of P), the FlashAttention-2 convention.
/// </summary>
internal static class AttentionBench
{
    public static int Run(string[] args)
    {
        int[] seqs = [256, 1024, 4096];
        int batch = 4, heads = 8, hd = 64, reps = 3;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seq": seqs = args[++i].Split(',').Select(int.Parse).ToArray(); break;
                case "--batch": batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--heads": heads = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--head-dim": hd = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"attention bench: unknown option {args[i]}"); return 2;
            }
        }
        Console.WriteLine($"{Environment.ProcessorCount} cores; B {batch}, {heads} heads × {hd}");
        Console.WriteLine($"{"T",6} {"fwd ms",9} {"fwd GF/s",9} {"bwd ms",9} {"bwd GF/s",9}");
        var rng = new Random(1);
        foreach (int T in seqs)
        {
            var shape = new AttentionShape(batch, T, heads, heads, hd);
            long n = (long)batch * T * heads * hd;
            float[] Rand() => Enumerable.Range(0, (int)n).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            float[] q = Rand(), k = Rand(), v = Rand(), dOut = Rand(), o = new float[n], lse = new float[batch * heads * T];
            float[] dq = new float[n], dk = new float[n], dv = new float[n];
            double flops = 4.0 * batch * heads * T * (T + 1) / 2.0 * hd;
            double fwd = double.MaxValue, bwd = double.MaxValue;
            for (int r = 0; r <= reps; r++)
            {
                var sw = Stopwatch.StartNew();
                FlashAttention.Forward<float>(o, lse, q, k, v, shape);
                double f = sw.Elapsed.TotalSeconds;
                sw.Restart();
                FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape);
                double b = sw.Elapsed.TotalSeconds;
                if (r > 0) { fwd = Math.Min(fwd, f); bwd = Math.Min(bwd, b); } // run 0 warms up
            }
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{T,6} {fwd * 1e3,9:F1} {flops / fwd / 1e9,9:F1} {bwd * 1e3,9:F1} {2.5 * flops / bwd / 1e9,9:F1}"));
        }
        return 0;
    }
}
