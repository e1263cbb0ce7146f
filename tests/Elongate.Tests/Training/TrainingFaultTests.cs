using Elongate.Common;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Cli;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// Runs that fail loudly: a non-finite loss stops the run naming the step with the previous checkpoint intact (or is
/// skipped and counted under --skip-nonfinite), loss spikes and dead gradients raise warnings, a damaged checkpoint is
/// refused, and --resume either honours --steps/--lr or refuses options that conflict with the checkpoint.
/// </summary>
public sealed class TrainingFaultTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-faults").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static LlamaConfig Tiny(int seqLen) => new()
    {
        HiddenSize = 16, IntermediateSize = 32, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = TrainingTestData.VocabSize, MaxPositionEmbeddings = seqLen,
    };

    private string Data()
    {
        var data = Path.Combine(_dir, "data");
        if (!Directory.Exists(data)) TrainingTestData.Prepare(_dir, data, documents: 5, words: 150, validation: 1, seed: 3);
        return data;
    }

    private TrainerOptions Options(int steps, float lr, int checkpointEvery = 1, int skip = 0) => new()
    {
        Sources = [new TrainingSource("d", Data())], SeqLen = 16, TokensPerStep = 32, BatchSize = 2, Steps = steps, LearningRate = lr,
        WarmupSteps = 0, CheckpointEvery = checkpointEvery, ValidationWindows = 2, Seed = 5, Deterministic = true, SkipNonFinite = skip,
    };

    [Fact]
    public void A_non_finite_loss_stops_the_run_naming_the_step_and_keeps_the_last_checkpoint()
    {
        // lr 1e30: the first update moves every weight by ~1e30, so the next forward pass overflows to ∞/NaN.
        var run = Path.Combine(_dir, "diverge");
        using var t = Trainer.Create(Tiny(16), Options(steps: 6, lr: 1e30f), run);
        var e = Assert.Throws<TrainingDivergedException>(() => t.Run());
        Assert.Equal(2, e.Step);
        Assert.Contains("step 2:", e.Message);
        Assert.Contains("diverged", e.Message);
        Assert.Contains("last checkpoint (step 1", e.Message);
        Assert.Contains("--skip-nonfinite", e.Message);
        var ckpt = TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName));
        Assert.Equal(1, ckpt.Step);
        Assert.All(ckpt.Parameters, p => Assert.True(float.IsFinite(p)));
        // metrics.jsonl still parses: the failed step was never written.
        Assert.Equal([1], LossCurvePlot.ReadMetrics(t.MetricsPath).Select(m => m.Step));
    }

    [Fact]
    public void Skip_nonfinite_skips_and_counts_bad_batches_then_stops_when_the_budget_is_spent()
    {
        var run = Path.Combine(_dir, "skip");
        using var t = Trainer.Create(Tiny(16), Options(steps: 8, lr: 1e30f, checkpointEvery: 0, skip: 3), run);
        var e = Assert.Throws<TrainingDivergedException>(() => t.Run());
        Assert.Equal(5, e.Step); // step 1 finite, 2–4 skipped, 5 over the budget
        Assert.Contains("after 3 skipped batches (--skip-nonfinite 3)", e.Message);
        Assert.Contains("No checkpoint was written", e.Message);
        var metrics = LossCurvePlot.ReadMetrics(t.MetricsPath);
        Assert.Equal([1, 2, 3, 4], metrics.Select(m => m.Step));
        Assert.Equal([false, true, true, true], metrics.Select(m => m.Skipped == true));
        Assert.All(metrics.Skip(1), m => Assert.False(float.IsFinite(m.Loss) && float.IsFinite(m.GradNorm)));
        Assert.All(metrics.Skip(1), m => Assert.Contains("batch skipped", m.Warning));
        // A skipped batch does not touch the weights: the parameters are those after step 1, all finite.
        Assert.All(t.Model.Parameters, p => Assert.True(float.IsFinite(p)));
    }

    [Fact]
    public void Guard_warns_on_spikes_and_dead_gradients_and_stops_when_the_gradient_stays_zero()
    {
        var g = new TrainingGuard(0, _dir);
        for (int s = 1; s <= TrainingGuard.SpikeWindow; s++) Assert.Null(g.Observe(s, 3.0, 1f));
        Assert.Null(g.Observe(11, 4.4, 1f));                        // 1.47× the mean: not a spike
        Assert.Contains("loss spike at step 12", g.Observe(12, 5.0, 1f)); // > 1.5× and > mean + 0.5
        string? warning = null;
        for (int s = 13; s < 13 + TrainingGuard.DeadStepsToWarn; s++) warning = g.Observe(s, 6.2383, 0f);
        Assert.Contains("exactly zero for 5 steps", warning);
        Assert.Null(g.Observe(18, 6.2383, 0f)); // warned once per streak
        var e = Assert.Throws<TrainingDivergedException>(() =>
        {
            for (int s = 19; s < 40; s++) g.Observe(s, 6.2383, 0f);
        });
        Assert.Equal(13 + TrainingGuard.DeadStepsToStop - 1, e.Step);
        // A gradient that comes back resets the streak.
        var h = new TrainingGuard(0, _dir);
        for (int s = 1; s < 100; s++) h.Observe(s, 5.0, s % 10 == 0 ? 0.5f : 0f);
    }

    [Fact]
    public void Cli_train_with_an_absurd_learning_rate_exits_5_with_the_step_and_no_json_error()
    {
        var run = Path.Combine(_dir, "cli-diverge");
        var (rc, output, err) = CliTests.Run(["train", "--data", Data(), "--dim", "16", "--layers", "1", "--heads", "2", "--seq-len", "16",
            "--tokens-per-step", "32", "--batch-size", "2", "--steps", "6", "--lr", "1e30", "--warmup", "0", "--checkpoint-every", "1", "--out", run]);
        Assert.True(rc == 5, $"rc {rc}: {err}{output}");
        Assert.Contains("step 2: the ", err);
        Assert.Contains("training diverged", err);
        Assert.DoesNotContain("JSON", err);
        Assert.Equal(1, TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName)).Step);
    }

    [Fact]
    public void Resume_with_steps_trains_on_to_the_new_end_on_the_new_schedule()
    {
        var run = Path.Combine(_dir, "extend-steps");
        var opts = Options(steps: 6, lr: 3e-3f, checkpointEvery: 0) with { WarmupSteps = 2 };
        using (var t = Trainer.Create(Tiny(16), opts, run)) t.Run();
        Assert.Throws<ArgumentException>(() => Trainer.Resume(run, new ResumeChanges(Steps: 5)));
        using (var t = Trainer.Resume(run, new ResumeChanges(Steps: 9)))
        {
            Assert.Equal(6, t.Step);
            Assert.Equal(9, t.TotalSteps);
            t.Run();
        }
        var metrics = LossCurvePlot.ReadMetrics(Path.Combine(run, Trainer.MetricsFileName));
        Assert.Equal(Enumerable.Range(1, 9), metrics.Select(m => m.Step));
        var longer = new CosineSchedule(3e-3f, 3e-4f, 2, 9);
        for (int s = 6; s < 9; s++) Assert.Equal(longer.At(s), metrics[s].LearningRate);
        Assert.Equal(9, TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName)).Options.Steps);
    }

    [Fact]
    public void Cli_resume_honours_steps_and_refuses_options_that_conflict_with_the_checkpoint()
    {
        var data = Data();
        var run = Path.Combine(_dir, "cli-resume");
        string[] common = ["--data", data, "--dim", "16", "--layers", "1", "--heads", "2", "--seq-len", "16", "--tokens-per-step", "32", "--steps", "4", "--lr", "3e-3"];
        var (rc, output, err) = CliTests.Run(["train", .. common, "--out", run]);
        Assert.True(rc == 0, err + output);

        (rc, output, err) = CliTests.Run(["train", "--resume", run, "--seq-len", "32"]);
        Assert.Equal(2, rc);
        Assert.Contains("--seq-len cannot change", err);

        (rc, output, err) = CliTests.Run(["train", "--resume", run]);
        Assert.True(rc == 0, err + output);
        Assert.Contains("already complete (4 steps)", output);

        (rc, output, err) = CliTests.Run(["train", "--resume", run, "--steps", "6"]);
        Assert.True(rc == 0, err + output);
        Assert.Contains("done: 6 steps", output);
        Assert.Equal(6, TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName)).Step);

        (rc, _, err) = CliTests.Run(["train", "--resume", run, "--steps", "3"]);
        Assert.Equal(2, rc);
        Assert.Contains("fewer than the 6 steps", err);
    }

    [Fact]
    public void A_checkpoint_with_one_byte_flipped_in_the_middle_is_refused_on_resume_naming_the_file()
    {
        var run = Path.Combine(_dir, "flip");
        using (var t = Trainer.Create(Tiny(16), Options(steps: 2, lr: 3e-3f), run)) t.Run();
        var path = Path.Combine(run, TrainingCheckpoint.FileName);
        var bytes = File.ReadAllBytes(path);
        bytes[bytes.Length / 2] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ModelFormatException>(() => Trainer.Resume(run));
        Assert.Contains(path, e.Message);
        Assert.Contains("checksum mismatch", e.Message);
        var (rc, _, err) = CliTests.Run(["train", "--resume", run, "--steps", "3"]);
        Assert.Equal(1, rc);
        Assert.Contains("checksum mismatch", err);
    }
}
