using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Training;
using Elongate.Training;
using Elongate.Tests.Model;

namespace Elongate.Tests.Cli;

/// <summary>
/// `elongate train` and `elongate extend` end to end on tiny settings: metrics, loss curve, and exports that the
/// loaders read back with the RoPE the run used and that the inference session runs.
/// </summary>
public sealed class TrainCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-train-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Data()
    {
        var data = Path.Combine(_dir, "data");
        TrainingTestData.Prepare(_dir, data, documents: 5, words: 250, validation: 1);
        return data;
    }

    private static void AssertRuns(LlamaModel model, int tokens)
    {
        var session = new InferenceSession(model, tokens);
        var ids = Enumerable.Range(0, tokens).Select(i => 1 + i * 7 % (model.Config.VocabSize - 1)).ToArray();
        var logits = session.Forward(ids);
        Assert.Equal(model.Config.VocabSize, logits.Length);
        Assert.All(logits, v => Assert.True(float.IsFinite(v)));
        Assert.Equal(tokens, session.Position);
    }

    private static string Train(string data, string run, params string[] extra)
    {
        var (rc, output, err) = CliTests.Run(["train", "--data", data, "--dim", "32", "--layers", "2", "--heads", "4", "--seq-len", "32",
            "--tokens-per-step", "128", "--batch-size", "2", "--steps", "12", "--lr", "3e-3", "--val-every", "4", "--checkpoint-every", "6",
            "--log-every", "4", "--out", run, .. extra]);
        Assert.True(rc == 0, err + output);
        return output;
    }

    [Fact]
    public void Train_writes_metrics_plot_checkpoint_and_exports_that_load_and_run()
    {
        var data = Data();
        var run = Path.Combine(_dir, "run");
        var output = Train(data, run, "--rope-base", "20000");
        Assert.Contains("4 sequences × 32 tokens, 2 micro-batches of 2", output);
        Assert.Matches(@"step 4/12 loss [0-9.]+ lr [0-9.e+-]+ grad [0-9.]+ tok/s [0-9]+ val [0-9.]+ eta", output);
        Assert.Contains("done: 12 steps, 1536 tokens", output);

        var metrics = LossCurvePlot.ReadMetrics(Path.Combine(run, Trainer.MetricsFileName));
        Assert.Equal(Enumerable.Range(1, 12), metrics.Select(m => m.Step));
        Assert.Equal([4, 8, 12], metrics.Where(m => m.ValidationLoss is not null).Select(m => m.Step));
        Assert.All(metrics, m => Assert.True(m.TokensPerSecond > 0 && float.IsFinite(m.Loss) && m.LearningRate > 0));
        Assert.True(metrics[^1].Loss < metrics[0].Loss, "loss should fall over 12 steps");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(Path.Combine(run, Trainer.LossPlotFileName))[..4]);
        Assert.Equal(12, TrainingCheckpoint.Load(Path.Combine(run, TrainingCheckpoint.FileName)).Step);

        var gguf = ModelLoader.Load(Path.Combine(run, Trainer.GgufFileName));
        Assert.Equal(20000f, gguf.Config.RopeTheta);
        Assert.Equal(32, gguf.Config.MaxPositionEmbeddings);
        Assert.Equal(TrainingTestData.VocabSize, gguf.Vocabulary!.Count);
        AssertRuns(gguf, 32);
        var hf = ModelLoader.Load(Path.Combine(run, Trainer.SafetensorsFolderName));
        Assert.Equal(20000f, hf.Config.RopeTheta);
        Assert.Equal(gguf.Weights.Layers[1].Wq.Values(), hf.Weights.Layers[1].Wq.Values());

        var (rc, gen, err) = CliTests.Run("generate", "-m", Path.Combine(run, Trainer.GgufFileName), "-p", "The", "-n", "5");
        Assert.True(rc == 0, err);
        Assert.StartsWith("The", gen);
    }

    [Fact]
    public void Extend_applies_the_new_rope_at_four_times_the_length_with_the_same_tokens_per_step()
    {
        var data = Data();
        var run = Path.Combine(_dir, "base");
        Train(data, run);

        // Default: ABF with base 500,000; the run folder stands for its model.gguf and gives the tokens per step.
        var abf = Path.Combine(_dir, "abf");
        var (rc, output, err) = CliTests.Run("extend", "--model", run, "--data", data, "--seq-len", "128",
            "--steps", "4", "--batch-size", "1", "--out", abf);
        Assert.True(rc == 0, err + output);
        Assert.Contains("context 32 → 128", output);
        Assert.Contains("1 sequences × 128 tokens", output);
        Assert.Contains("warmup 0", output);
        var m = ModelLoader.Load(Path.Combine(abf, Trainer.GgufFileName));
        Assert.Equal(500_000f, m.Config.RopeTheta);
        Assert.Null(m.Config.RopeScaling);
        Assert.Equal(128, m.Config.MaxPositionEmbeddings);
        AssertRuns(m, 128);
        var metrics = LossCurvePlot.ReadMetrics(Path.Combine(abf, Trainer.MetricsFileName));
        Assert.Equal(4, metrics.Count);
        Assert.All(metrics, x => Assert.True(x.LearningRate <= 2e-5f));

        // YaRN from the safetensors export (a different reader), explicit tokens per step.
        var yarn = Path.Combine(_dir, "yarn");
        (rc, output, err) = CliTests.Run("extend", "--model", Path.Combine(run, Trainer.SafetensorsFolderName), "--data", data, "--seq-len", "128",
            "--tokens-per-step", "256", "--steps", "2", "--batch-size", "2", "--rope-scaling", "yarn", "--rope-factor", "4", "--out", yarn);
        Assert.True(rc == 0, err + output);
        var y = ModelLoader.Load(Path.Combine(yarn, Trainer.GgufFileName));
        Assert.Equal("yarn", y.Config.RopeScaling!.Type);
        Assert.Equal(4.0, y.Config.RopeScaling.Factor);
        Assert.Equal(32, y.Config.RopeScaling.OriginalContext);
        Assert.Equal(128, y.Config.MaxPositionEmbeddings);
        Assert.Equal(TrainingTestData.VocabSize, y.Vocabulary!.Count);
        AssertRuns(y, 128);

        // llama.cpp reads both exports (vocabulary, RoPE keys) and computes the same logits over the new length.
        // Tolerance as for every F32 GGUF against llama.cpp (ForwardPassVsLlamaCppTests): 1e-4 of the largest |logit|.
        var ids = Enumerable.Range(0, 128).Select(i => 3 + i * 37 % (TrainingTestData.VocabSize - 3)).ToArray();
        foreach (var path in new[] { Path.Combine(abf, Trainer.GgufFileName), Path.Combine(yarn, Trainer.GgufFileName) })
        {
            using var oracle = Elongate.Tests.Oracles.LlamaCppOracle.Open(path, contextSize: 128);
            var theirs = oracle.Logits(ids);
            var ours = new InferenceSession(ModelLoader.Load(path), 128).ForwardAll(ids);
            for (int t = 0; t < ids.Length; t++)
            {
                double scale = theirs[t].Max(Math.Abs), diff = 0;
                for (int v = 0; v < theirs[t].Length; v++) diff = Math.Max(diff, Math.Abs(ours[t][v] - theirs[t][v]));
                Assert.True(diff <= 1e-4 * scale, $"{path} position {t}: max |Δ| {diff:E2} vs max |logit| {scale:E2}");
            }
        }
    }

    [Fact]
    public void Bad_training_arguments_are_reported_clearly()
    {
        var data = Data();
        var (rc, _, err) = CliTests.Run("train", "--data", data, "--preset", "1m", "--seq-len", "32", "--tokens-per-step", "100", "--steps", "1", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, rc);
        Assert.Contains("multiple of --seq-len", err);
        (rc, _, err) = CliTests.Run("train", "--data", data, "--seq-len", "32", "--tokens-per-step", "64", "--steps", "1", "--out", Path.Combine(_dir, "x"));
        Assert.Equal(2, rc);
        Assert.Contains("--preset", err);
        (rc, _, err) = CliTests.Run("train", "--resume", Path.Combine(_dir, "none"));
        Assert.Equal(1, rc);
        Assert.Contains("checkpoint", err);
        (rc, _, err) = CliTests.Run("extend", "--model", Path.Combine(_dir, "nope.gguf"), "--data", data, "--seq-len", "64", "--steps", "1", "--out", Path.Combine(_dir, "y"));
        Assert.Equal(1, rc);
        Assert.Contains("nope.gguf", err);
        (rc, _, err) = CliTests.Run("train", "--data", data, "--preset", "1m", "--seq-len", "32", "--tokens-per-step", "64", "--steps", "1",
            "--mix", "other=1", "--out", Path.Combine(_dir, "z"));
        Assert.Equal(2, rc);
        Assert.Contains("other", err);
    }
}
