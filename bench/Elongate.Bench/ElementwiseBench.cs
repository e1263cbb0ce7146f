using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Numerics.Tensors;
using Elongate.Kernels;
using Elongate.Training;

namespace Elongate.Bench;

/// <summary>
/// `elementwise` subcommand: the training model's fused element-wise layers against the unfused sequence they replaced,
/// on one step's shapes (default: the 20m preset at 4096 tokens, 512 / 1408 wide), float, interleaved repetitions
/// (unfused, fused, unfused, …), medians. The unfused SwiGLU is the former scalar code (copied below as the baseline);
/// the unfused norm is TensorPrimitives.Add + RmsNormLayer, which the library still has. A last table times the RoPE
/// passes the training step no longer makes (q and k rotated before the attention, dq and dk after it; now done inside
/// the attention kernels, see `attention --rope`): the former scalar loop (copied below) and the vectorized
/// <see cref="RopeRotation"/> as a separate pass, 8 heads of 64 over the same rows.
/// </summary>
internal static class ElementwiseBench
{
    public static int Run(string[] args)
    {
        int rows = 4096, dim = 512, hid = 1408, reps = 21;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rows": rows = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--dim": dim = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--ffn": hid = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: elementwise [--rows 4096] [--dim 512] [--ffn 1408] [--reps 21]");
                    return 2;
            }
        }
        var rng = new Random(1);
        float[] R(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
        var g = R(rows * hid); var u = R(rows * hid); var h = new float[rows * hid]; var dh = R(rows * hid);
        var dg = new float[rows * hid]; var du = new float[rows * hid];
        var x = R(rows * dim); var p = R(rows * dim); var s = new float[rows * dim]; var y = new float[rows * dim];
        var rs = new float[rows]; var gain = R(dim); var dgain = new float[dim]; var dx = new float[rows * dim];
        var cases = new (string Name, Action Unfused, Action Fused)[]
        {
            ("SwiGLU forward", () => ScalarSwiGlu.Forward<float>(h, g, u), () => SwiGluLayer.Forward<float>(h, g, u)),
            ("SwiGLU backward (2 clears + accumulate / one pass)",
                () => { Array.Clear(dg); Array.Clear(du); ScalarSwiGlu.Backward<float>(dg, du, dh, g, u); },
                () => SwiGluLayer.BackwardOverwrite<float>(dg, du, dh, g, u)),
            ("residual add + RMSNorm forward",
                () => { TensorPrimitives.Add(x, p, s); RmsNormLayer.Forward<float>(y, rs, s, gain, rows, 1e-5f); },
                () => ResidualRmsNormLayer.Forward<float>(s, y, rs, x, p, gain, rows, 1e-5f)),
            ("RMSNorm backward (into the residual gradient)",
                () => RmsNormLayer.Backward<float>(dx, dgain, y, s, gain, rs, rows),
                () => ResidualRmsNormLayer.Backward<float>(dx, dgain, y, s, gain, rs, rows)),
        };
        Console.WriteLine($"CPU: {CpuInfo.Current}");
        Console.WriteLine($"{rows} rows × {dim} (norm) / {hid} (SwiGLU) floats; median of {reps} interleaved repetitions; load average {MachineInfo.LoadAverage()}");
        Console.WriteLine($"{"layer",-50} {"unfused ms",11} {"fused ms",9} {"speed-up",8}");
        foreach (var (name, unfused, fused) in cases)
        {
            unfused(); fused();
            var tu = new List<double>(); var tf = new List<double>();
            for (int r = 0; r < reps; r++)
            {
                var sw = Stopwatch.StartNew(); unfused(); tu.Add(sw.Elapsed.TotalMilliseconds);
                sw.Restart(); fused(); tf.Add(sw.Elapsed.TotalMilliseconds);
            }
            double mu = Median(tu), mf = Median(tf);
            Console.WriteLine($"{name,-50} {mu,11:F2} {mf,9:F2} {mu / mf,7:F1}×");
        }
        // RoPE: plain tables over the whole 64-wide head; rows are one sequence of `rows` positions.
        int headDim = 64, heads = dim / headDim, pairs = headDim / 2;
        var cos = new float[rows * pairs]; var sin = new float[rows * pairs];
        for (int pos = 0; pos < rows; pos++)
            for (int i = 0; i < pairs; i++)
            {
                double angle = pos * Math.Pow(10000, -2.0 * i / headDim);
                cos[pos * pairs + i] = (float)Math.Cos(angle);
                sin[pos * pairs + i] = (float)Math.Sin(angle);
            }
        var qk = R(rows * dim);
        var ropeCases = new (string Name, Action Before, Action Now)[]
        {
            ("RoPE pass, one [rows × dim] tensor, forward",
                () => ScalarRope.Apply(qk, rows, heads, headDim, cos, sin, backward: false),
                () => RopeRotation.Forward<float>(qk, rows, rows, heads, headDim, headDim, cos, sin)),
            ("RoPE pass, one [rows × dim] tensor, backward",
                () => ScalarRope.Apply(qk, rows, heads, headDim, cos, sin, backward: true),
                () => RopeRotation.Backward<float>(qk, rows, rows, heads, headDim, headDim, cos, sin)),
        };
        Console.WriteLine($"{"RoPE pass (the step made 4 per layer: q, k, dq, dk)",-50} {"scalar ms",11} {"vector ms",9} {"speed-up",8}");
        foreach (var (name, before, now) in ropeCases)
        {
            var (mb, mn) = Interleaved(before, now, reps);
            Console.WriteLine($"{name,-50} {mb,11:F2} {mn,9:F2} {mb / mn,7:F1}×");
        }
        Console.WriteLine($"load average at the end {MachineInfo.LoadAverage()}");
        return 0;
    }

    private static (double First, double Second) Interleaved(Action first, Action second, int reps)
    {
        first(); second();
        var ta = new List<double>(); var tb = new List<double>();
        for (int r = 0; r < reps; r++)
        {
            var sw = Stopwatch.StartNew(); first(); ta.Add(sw.Elapsed.TotalMilliseconds);
            sw.Restart(); second(); tb.Add(sw.Elapsed.TotalMilliseconds);
        }
        return (Median(ta), Median(tb));
    }

    /// <summary>The training RoPE pass as it was before the shared vectorized row rotation (scalar, pairs outer): the baseline.</summary>
    private static class ScalarRope
    {
        public static void Apply(Span<float> x, int rows, int heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin, bool backward)
        {
            int pairs = headDim / 2, width = heads * headDim;
            for (int r = 0; r < rows; r++)
            {
                int tb = r * pairs;
                var row = x.Slice(r * width, width);
                for (int i = 0; i < pairs; i++)
                {
                    float c = cos[tb + i], s = sin[tb + i];
                    if (backward) s = -s;
                    for (int h = 0; h < heads; h++)
                    {
                        int j = h * headDim + 2 * i;
                        float a = row[j], b = row[j + 1];
                        row[j] = a * c - b * s;
                        row[j + 1] = a * s + b * c;
                    }
                }
            }
        }
    }

    private static double Median(List<double> xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>The training SwiGLU as it was before the fused kernels (scalar, T.Exp per element): the baseline.</summary>
    private static class ScalarSwiGlu
    {
        public static void Forward<T>(Span<T> h, ReadOnlySpan<T> gate, ReadOnlySpan<T> up) where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int i = 0; i < h.Length; i++)
            {
                T gi = gate[i];
                h[i] = gi / (T.One + T.Exp(-gi)) * up[i];
            }
        }

        public static void Backward<T>(Span<T> dGate, Span<T> dUp, ReadOnlySpan<T> dh, ReadOnlySpan<T> gate, ReadOnlySpan<T> up)
            where T : unmanaged, IFloatingPointIeee754<T>
        {
            for (int i = 0; i < dh.Length; i++)
            {
                T gi = gate[i];
                T sig = T.One / (T.One + T.Exp(-gi));
                dUp[i] += dh[i] * gi * sig;
                dGate[i] += dh[i] * up[i] * sig * (T.One + gi * (T.One - sig));
            }
        }
    }
}
