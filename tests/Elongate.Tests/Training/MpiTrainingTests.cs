using System.Diagnostics;
using System.Text.Json.Nodes;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// Data-parallel training under a real <c>mpirun -np 2</c> (Open MPI), against the same command in one process:
/// with --deterministic the losses, gradient norms and final weights are equal bit for bit (train and finetune); in
/// the default allreduce mode the first step's loss is equal and later ones agree to float-summation order; a rank
/// killed with SIGKILL stops the job within seconds, and the run resumes with 2 ranks or 1 process to the uninterrupted
/// run's numbers; a step that cannot be split over the ranks is refused on every rank without a hang.
/// </summary>
public sealed class MpiTrainingTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-mpi").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private string Data()
    {
        var data = Path.Combine(_dir, "data");
        if (!Directory.Exists(data)) TrainingTestData.Prepare(_dir, data, documents: 5, words: 250, validation: 1);
        return data;
    }

    // 16 sequences of 32 tokens per step in micro-batches of 2: 8 micro-batches, 4 per rank.
    private string[] Train(string run, int steps, params string[] extra) =>
        ["train", "--data", Data(), "--dim", "32", "--layers", "2", "--heads", "4", "--seq-len", "32", "--tokens-per-step", "512", "--batch-size", "2",
         "--steps", steps.ToString(), "--lr", "3e-3", "--warmup", "2", "--val-every", "5", "--log-every", "5", "--out", run, .. extra];

    private static List<TrainingMetrics> Metrics(string run) => LossCurvePlot.ReadMetrics(Path.Combine(run, Trainer.MetricsFileName));

    private static void AssertSameBits(string expectedRun, string actualRun)
    {
        var e = Metrics(expectedRun);
        var a = Metrics(actualRun);
        Assert.Equal(e.Select(m => m.Step), a.Select(m => m.Step));
        Assert.Equal(e.Select(m => BitConverter.SingleToInt32Bits(m.Loss)), a.Select(m => BitConverter.SingleToInt32Bits(m.Loss)));
        Assert.Equal(e.Select(m => BitConverter.SingleToInt32Bits(m.GradNorm)), a.Select(m => BitConverter.SingleToInt32Bits(m.GradNorm)));
        Assert.Equal(e.Select(m => m.ValidationLoss), a.Select(m => m.ValidationLoss));
        Assert.Equal(File.ReadAllBytes(Path.Combine(expectedRun, Trainer.SafetensorsFolderName, "model.safetensors")),
            File.ReadAllBytes(Path.Combine(actualRun, Trainer.SafetensorsFolderName, "model.safetensors")));
    }

    [SkippableFact]
    public void Two_ranks_train_like_one_process_bit_for_bit_when_deterministic_and_to_summation_order_otherwise()
    {
        MpiJob.Mpirun();
        string one = Path.Combine(_dir, "one"), two = Path.Combine(_dir, "two"), twoAllreduce = Path.Combine(_dir, "two-allreduce");
        var (rc, output) = MpiJob.RunSingle(oneThread: true, Train(one, 10, "--deterministic"));
        Assert.True(rc == 0, output);
        (rc, output) = MpiJob.RunMpi(2, oneThread: true, Train(two, 10, "--deterministic"));
        Assert.True(rc == 0, output);
        Assert.Contains("data parallel: 2 ranks × 4 micro-batches each", output);
        // Progress comes from rank 0 only.
        Assert.Single(output.Split('\n'), l => l.StartsWith("done: 10 steps", StringComparison.Ordinal));
        AssertSameBits(one, two);
        Assert.All(Metrics(two), m => Assert.True(m.WorldSize == 2 && m.CommMilliseconds >= 0));
        Assert.All(Metrics(one), m => Assert.True(m.WorldSize is null && m.CommMilliseconds is null));

        // Allreduce mode: the same data and weights at step 1 give the same loss exactly; after that the weights differ
        // by the order of fp32 additions in the gradient sum, which moves the losses by ~1e-7 here (1e-4 allows for growth).
        (rc, output) = MpiJob.RunMpi(2, oneThread: false, Train(twoAllreduce, 10));
        Assert.True(rc == 0, output);
        var e = Metrics(one);
        var a = Metrics(twoAllreduce);
        Assert.Equal(e[0].Loss, a[0].Loss);
        Assert.All(e.Zip(a), p => Assert.True(Math.Abs(p.First.Loss - p.Second.Loss) <= 1e-4, $"step {p.First.Step}: {p.First.Loss} vs {p.Second.Loss}"));
    }

    [SkippableFact]
    public void A_killed_rank_stops_the_job_within_seconds_and_the_run_resumes_with_two_ranks_or_one_process()
    {
        MpiJob.Mpirun();
        string reference = Path.Combine(_dir, "reference"), run = Path.Combine(_dir, "killed"), copy = Path.Combine(_dir, "killed-copy");
        var (rc, output) = MpiJob.RunSingle(oneThread: true, Train(reference, 30, "--deterministic"));
        Assert.True(rc == 0, output);

        using var job = MpiJob.StartMpi(2, oneThread: true, Train(run, 30, "--deterministic", "--checkpoint-every", "5"));
        var metrics = Path.Combine(run, Trainer.MetricsFileName);
        var deadline = Stopwatch.StartNew();
        // Past the first checkpoint (step 5) and well before the end.
        while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 7))
        {
            Assert.False(job.HasExited, "the job ended before it could be killed");
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), "the job did not reach step 7");
            Thread.Sleep(20);
        }
        int pid = MpiJob.RankPid(job, 1) ?? throw new InvalidOperationException("rank 1 not found among mpirun's children");
        var clock = Stopwatch.StartNew();
        Process.GetProcessById(pid).Kill();
        (rc, output) = MpiJob.Wait(job);
        double seconds = clock.Elapsed.TotalSeconds;
        Assert.NotEqual(0, rc);
        Assert.Contains("exited on signal 9", output);
        Assert.True(seconds < 15, $"the job took {seconds:F1} s to stop after rank 1 was killed");
        int stoppedAt = Metrics(run).Count;
        Assert.InRange(stoppedAt, 7, 29);

        CopyDirectory(run, copy);
        (rc, output) = MpiJob.RunMpi(2, oneThread: true, "train", "--resume", run);
        Assert.True(rc == 0, output);
        AssertSameBits(reference, run);
        (rc, output) = MpiJob.RunSingle(oneThread: true, "train", "--resume", copy);
        Assert.True(rc == 0, output);
        AssertSameBits(reference, copy);
    }

    [SkippableFact]
    public void Two_ranks_finetune_like_one_process_bit_for_bit_when_deterministic()
    {
        MpiJob.Mpirun();
        var vocab = TokenizerLoader.Load(TrainingTestData.WriteTokenizer(Path.Combine(_dir, "tok"))).Vocabulary;
        var config = new LlamaConfig { HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = vocab.Count, MaxPositionEmbeddings = 128 };
        var m = new LlamaTrainingModel<float>(config, 1, 8);
        m.InitializeRandom(3, std: 0.1);
        var model = Path.Combine(_dir, "base.gguf");
        GgufModelWriter.Save(model, m.ToModel("base"), GgufOutputType.F32, vocab);
        var rng = new Random(7);
        string[] words = ["red", "tea", "sea", "hat", "one", "star"];
        var data = Path.Combine(_dir, "sft.jsonl");
        File.WriteAllLines(data, Enumerable.Range(0, 24).Select(_ =>
        {
            string key = words[rng.Next(words.Length)], value = words[rng.Next(words.Length)];
            return new JsonObject { ["prompt"] = $"the {key} is {value}. what is the {key}?", ["completion"] = value }.ToJsonString();
        }));
        string[] Args(string run) => ["finetune", "-m", model, "-d", data, "--chat-template", "chatml", "--seq-len", "128", "--tokens-per-step", "512",
            "--batch-size", "2", "--epochs", "2", "--lr", "1e-3", "--lora-rank", "4", "--lora-dropout", "0.1", "--merge", "--deterministic", "--out", run];
        string one = Path.Combine(_dir, "ft-one"), two = Path.Combine(_dir, "ft-two");
        var (rc, output) = MpiJob.RunSingle(oneThread: true, Args(one));
        Assert.True(rc == 0, output);
        (rc, output) = MpiJob.RunMpi(2, oneThread: true, Args(two));
        Assert.True(rc == 0, output);
        Assert.Contains("data parallel: 2 ranks", output);
        AssertSameBits(one, two);
        Assert.Equal(File.ReadAllBytes(Path.Combine(one, FineTuner.AdapterFolderName, "adapter_model.safetensors")),
            File.ReadAllBytes(Path.Combine(two, FineTuner.AdapterFolderName, "adapter_model.safetensors")));
    }

    [SkippableFact]
    public void Sigusr1_to_mpirun_stops_every_rank_after_the_same_step_with_a_checkpoint()
    {
        MpiJob.Mpirun();
        var run = Path.Combine(_dir, "usr1");
        using var job = MpiJob.StartMpi(2, oneThread: false, Train(run, 400));
        var metrics = Path.Combine(run, Trainer.MetricsFileName);
        var deadline = Stopwatch.StartNew();
        while (!(File.Exists(metrics) && File.ReadAllLines(metrics).Length >= 3))
        {
            Assert.False(job.HasExited, "the job ended before the signal");
            Assert.True(deadline.Elapsed < TimeSpan.FromMinutes(2), "the job did not reach step 3");
            Thread.Sleep(20);
        }
        using (var kill = Process.Start("kill", ["-USR1", job.Id.ToString()])) kill.WaitForExit();
        var (_, output) = MpiJob.Wait(job);
        var match = System.Text.RegularExpressions.Regex.Match(output, @"interrupted after step (\d+); checkpoint saved");
        Assert.True(match.Success, output);
        int step = int.Parse(match.Groups[1].Value);
        Assert.InRange(step, 3, 399);
        Assert.Equal(step, TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName)).Step);
        Assert.Equal(step, Metrics(run).Count);
    }

    [SkippableFact]
    public void A_step_that_cannot_be_split_over_the_ranks_is_refused_on_every_rank_without_a_hang()
    {
        MpiJob.Mpirun();
        // 3 micro-batches per step over 2 ranks.
        var (rc, output) = MpiJob.RunMpi(2, oneThread: false, "train", "--data", Data(), "--dim", "32", "--layers", "2", "--heads", "4", "--seq-len", "32",
            "--tokens-per-step", "192", "--batch-size", "2", "--steps", "4", "--out", Path.Combine(_dir, "uneven"));
        Assert.Equal(2, rc);
        Assert.Contains("3 micro-batches per step (6 sequences / --batch-size 2) cannot be split evenly over 2 ranks: use --batch-size 3", output);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        foreach (var d in Directory.GetDirectories(from)) CopyDirectory(d, Path.Combine(to, Path.GetFileName(d)));
    }
}
