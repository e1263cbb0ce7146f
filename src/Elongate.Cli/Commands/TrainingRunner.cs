using System.Diagnostics;
using System.Globalization;
using Elongate.Training;
using Spectre.Console;

namespace Elongate.Cli.Commands;

/// <summary>
/// Runs a <see cref="Trainer"/> to the end with a live progress bar (step, loss, lr, tokens/s, ETA) on a terminal,
/// or one plain line every --log-every steps when stdout is redirected. Ctrl+C stops after the current step and
/// writes a checkpoint, so `--resume` loses nothing.
/// </summary>
internal static class TrainingRunner
{
    public static int Run(Trainer trainer, TextWriter stdout, int logEvery)
    {
        if (logEvery < 1) throw new ArgumentException($"--log-every must be positive, got {logEvery}");
        var o = trainer.Options;
        var c = trainer.Model.Config;
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model: {trainer.Model.Parameters.Length / 1e6:F2}M parameters ({ModelPresets.NonEmbeddingParameters(c) / 1e6:F2}M non-embedding), dim {c.HiddenSize}, {c.NumLayers} layers, {c.NumHeads}/{c.NumKvHeads} heads, ffn {c.IntermediateSize}, vocab {c.VocabSize}; RoPE θ {c.RopeTheta:G}{(c.RopeScaling is { } s ? ", " + s : "")}"));
        stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"steps {trainer.Step}→{o.Steps}: {o.TokensPerStep} tokens/step = {trainer.SequencesPerStep} sequences × {o.SeqLen} tokens, {trainer.MicroBatches} micro-batches of {o.BatchSize}; lr {o.LearningRate:G3}, warmup {o.WarmupSteps}{(o.Deterministic ? $", deterministic ({Environment.ProcessorCount} thread{(Environment.ProcessorCount == 1 ? "" : "s")})" : "")}"));
        using var cts = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cts.Cancel(); };
        Console.CancelKeyPress += onCancel;
        int startStep = trainer.Step;
        var watch = Stopwatch.StartNew();
        string Eta(int step)
        {
            int done = step - startStep;
            if (done <= 0) return "?";
            var left = TimeSpan.FromSeconds(watch.Elapsed.TotalSeconds / done * (o.Steps - step));
            return left.ToString(left.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);
        }
        string Line(TrainingMetrics m) => string.Create(CultureInfo.InvariantCulture,
            $"step {m.Step}/{o.Steps} loss {m.Loss:F4} lr {m.LearningRate:0.00e+00} grad {m.GradNorm:F3} tok/s {m.TokensPerSecond:F0}{(m.ValidationLoss is { } v ? $" val {v:F4}" : "")} eta {Eta(m.Step)}");
        try
        {
            TrainingSummary summary;
            if (ConsoleUi.IsInteractive(stdout))
            {
                var console = ConsoleUi.Create(stdout);
                summary = console.Progress()
                    .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask($"step {trainer.Step}/{o.Steps}", maxValue: o.Steps);
                        task.Value = trainer.Step;
                        trainer.StepCompleted = m =>
                        {
                            // Short enough for an 80-column terminal next to the bar; ETA has its own column.
                            task.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"step {m.Step}/{o.Steps} loss {m.Loss:F3} lr {m.LearningRate:0.0e+00} {m.TokensPerSecond:F0} tok/s"));
                            task.Value = m.Step;
                            if (m.ValidationLoss is not null) console.MarkupLine(Markup.Escape(Line(m)));
                        };
                        return trainer.Run(cts.Token);
                    });
            }
            else
            {
                trainer.StepCompleted = m =>
                {
                    if (m.Step % logEvery == 0 || m.Step == o.Steps || m.ValidationLoss is not null) { stdout.WriteLine(Line(m)); stdout.Flush(); }
                };
                summary = trainer.Run(cts.Token);
            }
            stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: {summary.Steps} steps, {summary.Tokens} tokens, loss {summary.FinalLoss:F4}, val loss {(summary.FinalValidationLoss is { } vl ? vl.ToString("F4", CultureInfo.InvariantCulture) : "n/a")}, {summary.TokensPerSecond:F0} tokens/s"));
            stdout.WriteLine($"wrote {summary.GgufPath}, {summary.SafetensorsFolder}/, {summary.LossPlotPath}, {summary.MetricsPath}");
            return 0;
        }
        catch (OperationCanceledException)
        {
            trainer.SaveCheckpoint();
            stdout.WriteLine($"interrupted after step {trainer.Step}; checkpoint saved: continue with --resume {trainer.RunDirectory}");
            return 130;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
