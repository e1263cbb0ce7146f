using System.CommandLine;
using System.Globalization;
using Elongate.Rope;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate rope decay|granularity`: the LLaMA 2 Long paper's RoPE analysis (Figure 4's decay curve, Theorem 1's
/// granularity) for any bases and scalings, so a setting can be judged before any training.
/// </summary>
internal static class RopeCommand
{
    public static Command Create()
    {
        var cmd = new Command("rope", "RoPE analysis: attention-score decay curves and position-embedding granularity");
        cmd.Subcommands.Add(CreateDecay());
        cmd.Subcommands.Add(CreateGranularity());
        return cmd;
    }

    private static Option<string> BasesOption(string defaultValue) =>
        new("--bases") { Description = "Comma-separated RoPE bases, e.g. 10000,500000", DefaultValueFactory = _ => defaultValue };

    private static Option<string[]> ScalingOption() =>
        new("--scaling") { Description = "Scaling type[:factor[:L]], repeatable (e.g. linear:4, ntk:4, yarn:4:4096, llama3:8:8192)", AllowMultipleArgumentsPerToken = true };

    private static Option<int> DimOption() =>
        new("--dim") { Description = "Rotary dimension d (Llama 2: 128)", DefaultValueFactory = _ => 128 };

    private static double[] ParseBases(string text) =>
        text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var b) && b > 1
                ? b : throw new FormatException($"bad base '{s}': bases must be numbers above 1"))
            .ToArray();

    private static Command CreateDecay()
    {
        var bases = BasesOption("10000,500000");
        var scalings = ScalingOption();
        var dim = DimOption();
        var maxDelta = new Option<int>("--max-delta") { Description = "Largest relative distance Δ", DefaultValueFactory = _ => 4096 };
        var outDir = new Option<string>("--out") { Description = "Output directory for rope_decay.csv and rope_decay.png", Required = true };
        var cmd = new Command("decay", "Write the attention-score bound against relative distance (paper's Figure 4) as CSV and PNG")
            { bases, scalings, dim, maxDelta, outDir };
        cmd.SetAction(parse =>
        {
            try
            {
                int d = parse.GetValue(dim), n = parse.GetValue(maxDelta);
                if (d < 4 || d % 2 != 0) throw new FormatException($"--dim must be even and ≥ 4, got {d}");
                if (n < 1) throw new FormatException($"--max-delta must be ≥ 1, got {n}");
                var specs = (parse.GetValue(scalings) ?? []).Select(RopeAnalysis.ParseScaling).ToList();
                var curves = new List<(string Label, double[] Curve)>();
                foreach (double b in ParseBases(parse.GetValue(bases)!))
                    foreach (var s in specs.Prepend(RopeScaling.None))
                    {
                        var f = RopeTypes.Compute(b, d, s, n + 1);
                        curves.Add(($"b={b:G} {(s.Type == RopeTypes.Default ? "" : s.ToString())}".Trim(), RopeAnalysis.DecayBound(f.InverseFrequencies, n)));
                    }
                var dir = parse.GetValue(outDir)!;
                Directory.CreateDirectory(dir);
                var csv = Path.Combine(dir, "rope_decay.csv");
                var png = Path.Combine(dir, "rope_decay.png");
                RopeAnalysis.WriteDecayCsv(csv, curves);
                RopeAnalysis.WriteDecayPng(png, curves, d);
                Console.WriteLine($"score(0) = √{d} = {Math.Sqrt(d):F4}; first Δ below half of it:");
                foreach (var (label, c) in curves)
                {
                    int h = RopeAnalysis.FirstBelowHalf(c);
                    Console.WriteLine($"  {label,-40} {(h < 0 ? $"not within {n}" : h.ToString(CultureInfo.InvariantCulture))}");
                }
                Console.WriteLine($"wrote {csv} and {png}");
                return 0;
            }
            catch (Exception e) when (e is FormatException or Common.ModelFormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }

    private static Command CreateGranularity()
    {
        var bases = BasesOption("10000,500000");
        var scalings = ScalingOption();
        var dim = DimOption();
        var cmd = new Command("granularity", "Print Theorem 1's gap between consecutive position embeddings for the chosen settings")
            { bases, scalings, dim };
        cmd.SetAction(parse =>
        {
            try
            {
                int d = parse.GetValue(dim);
                if (d < 4 || d % 2 != 0) throw new FormatException($"--dim must be even and ≥ 4, got {d}");
                var given = parse.GetValue(scalings) ?? [];
                var specs = given.Length == 0 ? [RopeScaling.None, RopeAnalysis.ParseScaling("linear:4")] : given.Select(RopeAnalysis.ParseScaling).Prepend(RopeScaling.None).ToList();
                Console.WriteLine($"{"setting",-40} {"theorem (d→∞)",14} {"mean θ' (d=" + d + ")",16} {"mean chord",11}");
                foreach (double b in ParseBases(parse.GetValue(bases)!))
                    foreach (var s in specs)
                    {
                        var f = RopeTypes.Compute(b, d, s, 1);
                        // The closed form holds where every frequency is divided by the same s (default, ABF, PI).
                        string closed = s.Type is RopeTypes.Default or RopeTypes.Linear or RopeTypes.Xpos
                            ? RopeAnalysis.Granularity(b, s.Factor).ToString("F4", CultureInfo.InvariantCulture) : "-";
                        string label = $"b={b:G} {(s.Type == RopeTypes.Default ? "" : s.ToString())}".Trim();
                        Console.WriteLine($"{label,-40} {closed,14} {RopeAnalysis.GranularityDiscrete(f.InverseFrequencies),16:F4} {RopeAnalysis.GranularityChord(f.InverseFrequencies),11:F4}");
                    }
                return 0;
            }
            catch (Exception e) when (e is FormatException or Common.ModelFormatException)
            {
                Console.Error.WriteLine($"error: {e.Message}");
                return 2;
            }
        });
        return cmd;
    }
}
