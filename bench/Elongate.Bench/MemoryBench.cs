using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Model;
using Elongate.Training;
using Elongate.Kernels;
using Elongate.Tests.Oracles;

namespace Elongate.Bench;

/// <summary>
/// Peak memory of one training step (forward, backward, AdamW) of a ~5M-parameter Llama at several sequence lengths,
/// with and without gradient checkpointing, and flash vs naive attention forward+backward time and memory. Every
/// measurement runs in its own child process so each peak (VmHWM, the resident-set high-water mark) belongs to that
/// configuration alone. Children run with tiered compilation off, so a single timed step runs optimized code.
/// </summary>
/// <remarks>
/// Usage: <c>dotnet run -c Release --project bench/Elongate.Bench -- memory [--seq 512,1024,2048,4096]
/// [--naive-max 4096] [--batch 1] [--out results.json]</c>. Tokens per step are B·T (B = 1 by default), so a step at
/// 2T holds twice the tokens: linear activation memory shows as a constant number of bytes per added token, quadratic
/// as a number that doubles with T.
/// </remarks>
public static class MemoryBench
{
    /// <summary>dim 256, 6 layers, 8 heads of 32, SwiGLU 688, vocabulary 1024 tied: 5.0M parameters.</summary>
    private static readonly LlamaConfig Model5M = new()
    {
        HiddenSize = 256, IntermediateSize = 688, NumLayers = 6, NumHeads = 8, NumKvHeads = 8, VocabSize = 1024,
        MaxPositionEmbeddings = 4096, TieWordEmbeddings = true,
    };

    public static int Run(string[] args)
    {
        string? Arg(string name) { int i = Array.IndexOf(args, name); return i >= 0 && i + 1 < args.Length ? args[i + 1] : null; }
        if (args.Contains("--child")) return Child(args[0], int.Parse(Arg("--seq")!), int.Parse(Arg("--batch") ?? "1"), Arg("--mode")!);

        var seqs = (Arg("--seq") ?? "512,1024,2048,4096").Split(',').Select(int.Parse).ToArray();
        int naiveMax = int.Parse(Arg("--naive-max") ?? "4096"), batch = int.Parse(Arg("--batch") ?? "1");
        string? outPath = Arg("--out");
        var probe = new LlamaTrainingModel<float>(Model5M, 1, 1);
        Console.WriteLine($"model: dim {Model5M.HiddenSize}, {Model5M.NumLayers} layers, {Model5M.NumHeads} heads, ffn {Model5M.IntermediateSize}, " +
            $"vocab {Model5M.VocabSize} (tied): {probe.Parameters.Length:N0} parameters; batch {batch}; {Environment.ProcessorCount} cores");
        Console.WriteLine($"machine: {MachineInfo.CpuName()}");

        var steps = new JsonArray();
        Console.WriteLine();
        Console.WriteLine("training step (forward + backward + AdamW), peak resident memory of the whole process:");
        Console.WriteLine($"{"T",6} {"mode",-14} {"peak MiB",9} {"start MiB",9} {"activ. MiB",10} {"step s",8} {"tok/s",8}");
        foreach (int T in seqs)
            foreach (var mode in new[] { "stored", "checkpointed" })
            {
                var r = RunChild("step", T, batch, mode);
                steps.Add(r);
                Console.WriteLine($"{T,6} {mode,-14} {Mib(r["peakBytes"]),9:F1} {Mib(r["startBytes"]),9:F1} {Mib(r["activationBytes"]),10:F1} " +
                    $"{(double)r["seconds"]!,8:F2} {batch * T / (double)r["seconds"]!,8:F0}");
            }
        foreach (var mode in new[] { "stored", "checkpointed" })
        {
            var rows = steps.Where(s => (string)s!["mode"]! == mode).ToArray();
            var perToken = new List<string>();
            for (int i = 1; i < rows.Length; i++)
            {
                double dBytes = (long)rows[i]!["peakBytes"]! - (long)rows[i - 1]!["peakBytes"]!;
                double dTokens = batch * ((int)rows[i]!["seqLen"]! - (int)rows[i - 1]!["seqLen"]!);
                perToken.Add($"{(int)rows[i - 1]!["seqLen"]!}→{(int)rows[i]!["seqLen"]!}: {dBytes / dTokens / 1024:F1} KiB");
            }
            Console.WriteLine($"{mode}: peak growth per added token {string.Join(", ", perToken)} (constant = linear in T)");
        }

        var attention = new JsonArray();
        Console.WriteLine();
        Console.WriteLine($"attention alone, forward + backward, [1, T, {Model5M.NumHeads} heads × {Model5M.HeadDim}] fp32 " +
            "(flash uses all cores, the naive oracle one):");
        Console.WriteLine($"{"T",6} {"kernel",-7} {"peak MiB",9} {"fwd s",8} {"bwd s",8}");
        foreach (int T in seqs)
            foreach (var kernel in new[] { "flash", "naive" })
            {
                if (kernel == "naive" && T > naiveMax) continue;
                var r = RunChild("attention", T, 1, kernel);
                attention.Add(r);
                Console.WriteLine($"{T,6} {kernel,-7} {Mib(r["peakBytes"]),9:F1} {(double)r["forwardSeconds"]!,8:F3} {(double)r["backwardSeconds"]!,8:F3}");
            }

        var result = new JsonObject
        {
            ["benchmark"] = "training-memory",
            ["machine"] = MachineInfo.CpuName(),
            ["cores"] = Environment.ProcessorCount,
            ["parameters"] = probe.Parameters.Length,
            ["model"] = JsonSerializer.SerializeToNode(new
            {
                Model5M.HiddenSize, Model5M.NumLayers, Model5M.NumHeads, Model5M.NumKvHeads, Model5M.IntermediateSize, Model5M.VocabSize,
            }),
            ["batch"] = batch,
            ["trainingSteps"] = steps,
            ["attention"] = attention,
        };
        string json = result.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (outPath is null) Console.WriteLine(json);
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
            string tmp = outPath + ".tmp";
            File.WriteAllText(tmp, json);
            File.Move(tmp, outPath, overwrite: true);
            Console.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    private static double Mib(JsonNode? bytes) => (long)bytes! / (1024.0 * 1024.0);

    /// <summary>Starts this program again as a child for one measurement and parses the JSON line it prints.</summary>
    private static JsonObject RunChild(string what, int seqLen, int batch, string mode)
    {
        string exe = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Each child measures once, so it must not run tier-0 (unoptimized) code: full JIT from the first call.
        psi.Environment["DOTNET_TieredCompilation"] = "0";
        // Under `dotnet Elongate.Bench.dll` the process is the host; the child needs the assembly path first.
        if (Path.GetFileNameWithoutExtension(exe) == "dotnet") psi.ArgumentList.Add(typeof(MemoryBench).Assembly.Location);
        foreach (var a in new[] { "memory", what, "--child", "--seq", seqLen.ToString(CultureInfo.InvariantCulture), "--batch", batch.ToString(CultureInfo.InvariantCulture), "--mode", mode })
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"child {what} T={seqLen} {mode} failed ({p.ExitCode}): {stderr.Result}");
        return (JsonObject)JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
    }

    /// <summary>One measurement in a fresh process; prints one JSON line.</summary>
    private static int Child(string what, int seqLen, int batch, string mode)
    {
        long start = MachineInfo.PeakResidentBytes();
        JsonObject r;
        if (what == "step")
        {
            var model = new LlamaTrainingModel<float>(Model5M, batch, seqLen, gradientCheckpointing: mode == "checkpointed");
            model.InitializeRandom(seed: 1);
            var optimizer = new AdamW(model);
            var rng = new Random(2);
            var inputs = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(Model5M.VocabSize)).ToArray();
            var targets = Enumerable.Range(0, batch * seqLen).Select(_ => rng.Next(Model5M.VocabSize)).ToArray();
            var sw = Stopwatch.StartNew();
            model.ZeroGrad();
            float loss = model.Forward(inputs, targets);
            model.Backward();
            optimizer.Step(model.Parameters, model.Gradients, 1e-3f);
            double seconds = sw.Elapsed.TotalSeconds;
            r = new JsonObject
            {
                ["kind"] = "step", ["seqLen"] = seqLen, ["batch"] = batch, ["mode"] = mode, ["loss"] = loss,
                ["seconds"] = seconds, ["activationBytes"] = model.ActivationBytes,
                ["parameterBytes"] = 4L * model.Parameters.Length,
            };
        }
        else
        {
            var shape = new AttentionShape(1, seqLen, Model5M.NumHeads, Model5M.NumKvHeads, Model5M.HeadDim);
            var rng = new Random(3);
            float[] Rand(int n) { var a = new float[n]; for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1); return a; }
            var q = Rand(seqLen * shape.QDim); var k = Rand(seqLen * shape.KvDim); var v = Rand(seqLen * shape.KvDim);
            var dOut = Rand(seqLen * shape.QDim);
            var o = new float[q.Length]; var dq = new float[q.Length]; var dk = new float[k.Length]; var dv = new float[v.Length];
            var sw = Stopwatch.StartNew();
            double fwd, bwd;
            if (mode == "flash")
            {
                var lse = new float[shape.NumHeads * seqLen];
                FlashAttention.Forward<float>(o, lse, q, k, v, shape);
                fwd = sw.Elapsed.TotalSeconds; sw.Restart();
                FlashAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, o, lse, shape);
            }
            else
            {
                var probs = new float[(long)shape.NumHeads * seqLen * seqLen];
                NaiveAttention.Forward<float>(o, probs, q, k, v, shape);
                fwd = sw.Elapsed.TotalSeconds; sw.Restart();
                NaiveAttention.Backward<float>(dq, dk, dv, dOut, q, k, v, probs, shape);
            }
            bwd = sw.Elapsed.TotalSeconds;
            r = new JsonObject { ["kind"] = "attention", ["seqLen"] = seqLen, ["kernel"] = mode, ["forwardSeconds"] = fwd, ["backwardSeconds"] = bwd };
        }
        r["startBytes"] = start;
        r["peakBytes"] = MachineInfo.PeakResidentBytes();
        Console.WriteLine(r.ToJsonString());
        return 0;
    }
}
