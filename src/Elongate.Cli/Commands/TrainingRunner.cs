using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Elongate.Training;
using Elongate.Training.Distributed;
using Spectre.Console;

namespace Elongate.Cli.Commands;

/// <summary>
/// Runs a <see cref="Trainer"/> (or any <see cref="ITrainingLoop"/>) to the end with a live progress bar (step, loss, lr, tokens/s, ETA) on a terminal,
/// or one plain line every --log-every steps when stdout is redirected. Ctrl+C stops after the current step and
/// writes a checkpoint, so `--resume` loses nothing; under mpirun SIGUSR1 (which mpirun forwards to every rank) does.
/// </summary>
internal static class TrainingRunner
{
    public static int Run(Trainer trainer, TextWriter stdout, int logEvery)
    {
        var o = trainer.Options;
        var c = trainer.Model.Config;
        string[] header =
        [
            string.Create(CultureInfo.InvariantCulture,
                $"model: {trainer.Model.Parameters.Length / 1e6:F2}M parameters ({ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding), dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads}/{c.NumKvHeads} heads, ffn {c.IntermediateSize}, vocab {c.VocabSize}; RoPE θ {c.RopeTheta:G}{(c.RopeScaling is { } s ? ", " + s : "")}"),
            string.Create(CultureInfo.InvariantCulture,
                $"steps {trainer.Step}→{o.Steps}: {o.TokensPerStep} tokens/step = {trainer.SequencesPerStep} sequences × {o.SeqLen} tokens, {trainer.MicroBatches} micro-batches of {o.BatchSize}; lr {o.LearningRate:G3}, warmup {o.WarmupSteps}{(o.MatmulPrecision == Kernels.GemmPrecision.Fp32 ? "" : $", {o.MatmulPrecision.ToString().ToLowerInvariant()} linear-layer matmuls (fp32 accumulation and master weights)")}{(o.Deterministic ? $", deterministic ({Environment.ProcessorCount} thread{(Environment.ProcessorCount == 1 ? "" : "s")})" : "")}"),
        ];
        if (trainer.WorldSize > 1)
            header = [.. header, $"data parallel: {trainer.WorldSize} ranks × {trainer.MicroBatches / trainer.WorldSize} micro-batches each; gradients summed with MPI_Allreduce{(o.Deterministic ? " (ordered, deterministic)" : "")}"];
        if (trainer.Step >= o.Steps)
            header = [.. header, $"the run is already complete ({o.Steps} steps): exporting it again; give --steps N (> {o.Steps}) with --resume to train further"];
        return RunLoop(trainer, stdout, logEvery, header, ct =>
        {
            var summary = trainer.Run(ct);
            return
            [
                string.Create(CultureInfo.InvariantCulture,
                    $"done: {summary.Steps} steps, {summary.Tokens} tokens, loss {summary.FinalLoss:F4}, val loss {(summary.FinalValidationLoss is { } vl ? vl.ToString("F4", CultureInfo.InvariantCulture) : "n/a")}, {summary.TokensPerSecond:F0} tokens/s"),
                $"wrote {summary.GgufPath}, {summary.SafetensorsFolder}/, {summary.LossPlotPath}, {summary.MetricsPath}",
            ];
        });
    }

    /// <summary>
    /// Prints <paramref name="header"/>, runs <paramref name="runToEnd"/> with a progress bar or plain lines fed by the
    /// loop's <see cref="ITrainingLoop.StepCompleted"/>, then prints the lines it returns. Ctrl+C cancels after the
    /// current step and saves a checkpoint (exit 130).
    /// </summary>
    public static int RunLoop(ITrainingLoop loop, TextWriter stdout, int logEvery, IEnumerable<string> header, Func<CancellationToken, IEnumerable<string>> runToEnd)
    {
        if (logEvery < 1) throw new ArgumentException($"--log-every must be positive, got {logEvery}");
        foreach (var line in header) stdout.WriteLine(line);
        int total = loop.TotalSteps;
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        // Under mpirun, Ctrl+C on mpirun kills the ranks (SIGTERM) without a checkpoint; mpirun forwards SIGUSR1 to every
        // rank instead, so `kill -USR1 <mpirun pid>` is the graceful stop: all ranks agree to stop after the same step and
        // rank 0 checkpoints. (A raw signal number: PosixSignal has no name for SIGUSR1, which is 10 on Linux.)
        using var onUsr1 = Communicator.World.Size > 1 && OperatingSystem.IsLinux()
            ? PosixSignalRegistration.Create((PosixSignal)10, ctx => { ctx.Cancel = true; cts.Cancel(); })
            : null;
        int startStep = loop.Step;
        int warnings = 0;
        var watch = Stopwatch.StartNew();
        string Eta(int step)
        {
            int done = step - startStep;
            if (done <= 0) return "?";
            var left = TimeSpan.FromSeconds(watch.Elapsed.TotalSeconds / done * (total - step));
            return left.ToString(left.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);
        }
        string Line(TrainingMetrics m) => string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}/{total} loss {m.Loss:F4} lr {m.LearningRate:0.00e+00} grad {m.GradNorm:F3} tok/s {m.TokensPerSecond:F0}{(m.ValidationLoss is { } v ? $" val {v:F4}" : "")} eta {Eta(m.Step)}");
        try
        {
            IEnumerable<string> done;
            // mpirun hands each rank a pseudo-terminal, but its forwarding garbles a live bar: plain lines under MPI.
            if (ConsoleUi.IsInteractive(stdout) && Communicator.World.Size == 1)
            {
                var console = ConsoleUi.Create(stdout);
                done = console.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"step {loop.Step}/{total}", maxValue: total);
                        task.Value = loop.Step;
                        loop.StepCompleted = m =>
                        {
                            // Short enough for an 80-column terminal next to the bar; ETA has its own column.
                            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"step {m.Step}/{total} loss {m.Loss:F3} lr {m.LearningRate:0.0e+00} {m.TokensPerSecond:F0} tok/s"));
                            task.Value = m.Step;
                            if (m.ValidationLoss is not null) console.MarkupLine(Markup.Escape(Line(m)));
                            if (m.Warning is { } w) { warnings++; console.MarkupLine("[yellow]warning:[/] " + Markup.Escape(w)); }
                        };
                        return runToEnd(cts.Token).ToList();
                    });
            }
            else
            {
                loop.StepCompleted = m =>
                {
                    if (m.Step % logEvery == 0 || m.Step == total || m.ValidationLoss is not null) { stdout.WriteLine(Line(m)); stdout.Flush(); }
                    if (m.Warning is { } w) { warnings++; stdout.WriteLine("warning: " + w); stdout.Flush(); }
                };
                done = runToEnd(cts.Token).ToList();
            }
            foreach (var line in done) stdout.WriteLine(line);
            if (warnings > 0) stdout.WriteLine($"{warnings} warning{(warnings == 1 ? "" : "s")} during this run (in metrics.jsonl under \"warning\"): check the loss curve before using the model");
            return 0;
        }
        catch (OperationCanceledException)
        {
            loop.SaveCheckpoint();
            stdout.WriteLine($"interrupted after step {loop.Step}; checkpoint saved: continue with --resume {loop.RunDirectory}");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
