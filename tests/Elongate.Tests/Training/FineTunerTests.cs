using Elongate.Data;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// The fine-tuning loop: the step's loss is the mean over all its loss tokens however it is split into
/// micro-batches, epochs visit every sequence once, bad sequences are refused by position, a resumed run reproduces
/// the uninterrupted one bit for bit (full and LoRA with dropout), and a short run learns a synthetic instruction task
/// so that held-out questions are answered far better than by the base.
/// </summary>
public sealed class FineTunerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-finetune").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    // Synthetic "repeat the first word" dialogues over 24 ids: 0 pad, 1 BOS, 2 "?" (end of the question), 3 EOS, 4..23 words.
    private const int Vocab = 24, Bos = 1, Sep = 2, Eos = 3, FirstWord = 4, Words = 20;

    private static LlamaConfig Config(int seqLen) => new()
    {
        HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = Vocab, MaxPositionEmbeddings = seqLen,
    };

    private static LlamaModel RandomModel(LlamaConfig c, int seed)
    {
        var m = new LlamaTrainingModel<float>(c, 1, c.MaxPositionEmbeddings);
        m.InitializeRandom(seed);
        return m.ToModel("random base");
    }

    /// <summary>One example: [BOS, x, f1, f2, f3, ?] then the answer [x, EOS]; loss on the answer only.</summary>
    private static (int[] Tokens, bool[] Answer) Example(Random rng)
    {
        int x = FirstWord + rng.Next(Words);
        int[] tokens = [Bos, x, FirstWord + rng.Next(Words), FirstWord + rng.Next(Words), FirstWord + rng.Next(Words), Sep, x, Eos];
        return (tokens, [false, false, false, false, false, false, true, true]);
    }

    /// <summary>
    /// Sequences of T = 16: two examples packed (segments 0 and 1) or, every third sequence, one example padded on the
    /// right. Targets are the next token where that token is an answer token, else ignored.
    /// </summary>
    private static List<FineTuneSequence> Sequences(int count, int seed, int seqLen = 16)
    {
        var rng = new Random(seed);
        var list = new List<FineTuneSequence>();
        for (int n = 0; n < count; n++)
        {
            var inputs = new int[seqLen];
            var targets = Enumerable.Repeat(FineTuneSequence.IgnoreIndex, seqLen).ToArray();
            var segments = Enumerable.Repeat(FineTuneSequence.PaddingSegment, seqLen).ToArray();
            int at = 0, examples = n % 3 == 2 ? 1 : 2;
            for (int e = 0; e < examples; e++)
            {
                var (tokens, answer) = Example(rng);
                for (int i = 0; i < tokens.Length; i++)
                {
                    inputs[at + i] = tokens[i];
                    segments[at + i] = e;
                    if (i + 1 < tokens.Length && answer[i + 1]) targets[at + i] = tokens[i + 1];
                }
                at += tokens.Length;
            }
            list.Add(new FineTuneSequence(inputs, targets, segments));
        }
        return list;
    }

    /// <summary>Greedy accuracy on the answer's first token (the repeated word) over held-out sequences.</summary>
    private static double AnswerAccuracy(LlamaModel model, List<FineTuneSequence> heldOut)
    {
        var m = LlamaTrainingModel<float>.FromModel(model, 1, heldOut[0].Inputs.Length);
        int right = 0, total = 0;
        foreach (var q in heldOut)
        {
            m.Forward(q.Inputs, q.Targets, q.Segments);
            var logits = m.Logits;
            for (int t = 0; t < q.Inputs.Length; t++)
            {
                if (q.Inputs[t] != Sep || q.Segments[t] < 0) continue;
                var row = logits.Slice(t * Vocab, Vocab);
                int best = 0;
                for (int i = 1; i < Vocab; i++) if (row[i] > row[best]) best = i;
                right += best == q.Targets[t] ? 1 : 0;
                total++;
            }
        }
        return (double)right / total;
    }

    [Fact]
    public void Step_loss_is_the_mean_over_all_loss_tokens_whatever_the_micro_batches()
    {
        using var baseModel = RandomModel(Config(16), 1);
        var data = Sequences(2, seed: 3);
        // Different numbers of loss tokens per sequence (4 and 2): a mean of per-sequence means would differ.
        Assert.NotEqual(data[0].Targets.Count(y => y >= 0), Sequences(3, 3)[2].Targets.Count(y => y >= 0));
        data = [data[0], Sequences(3, 3)[2]];
        var options = new FineTuneOptions { TokensPerStep = 32, Epochs = 1, LearningRate = 1e-3f, Seed = 5 };
        var one = FineTuner.Create(baseModel, data, options with { BatchSize = 2 }, Path.Combine(_dir, "one"));
        var two = FineTuner.Create(baseModel, data, options with { BatchSize = 1 }, Path.Combine(_dir, "two"));
        Assert.Equal((2, 1), (one.SequencesPerStep, one.MicroBatches));
        Assert.Equal((2, 2), (two.SequencesPerStep, two.MicroBatches));

        // The reference: one forward over both rows, the plain mean over their 6 loss tokens.
        var reference = LlamaTrainingModel<float>.FromModel(baseModel, 2, 16);
        var order = one.StepSequences(0).ToArray();
        float expected = reference.Forward(order.SelectMany(i => data[i].Inputs).ToArray(), order.SelectMany(i => data[i].Targets).ToArray(),
            order.SelectMany(i => data[i].Segments).ToArray());

        var m1 = one.TrainStep();
        var m2 = two.TrainStep();
        Assert.Equal(expected, m1.Loss, 1e-6f);
        Assert.Equal(expected, m2.Loss, 1e-6f);
        Assert.True(GradCheck.RelativeError(two.Model.Parameters, one.Model.Parameters) < 1e-6);
    }

    [Fact]
    public void Default_step_is_llama2_chats_262144_tokens_rounded_to_whole_micro_batches()
    {
        Assert.Equal(64 * 4096, FineTuneOptions.DefaultTokensPerStepFor(4096, 1));
        Assert.Equal(16 * 16384, FineTuneOptions.DefaultTokensPerStepFor(16384, 4)); // the paper's rule: 16 sequences at 16k
        Assert.Equal(1365 * 192, FineTuneOptions.DefaultTokensPerStepFor(192, 1));
        Assert.Equal(1364 * 192, FineTuneOptions.DefaultTokensPerStepFor(192, 4));
        Assert.Equal(1 << 20, FineTuneOptions.DefaultTokensPerStepFor(1 << 20, 1)); // at least one sequence
        foreach (var (t, b) in new[] { (100, 3), (777, 5), (16, 16) })
            _ = TrainerOptions.StepShape(FineTuneOptions.DefaultTokensPerStepFor(t, b), t, b); // always a valid shape
    }

    [Fact]
    public void Example_weighting_gives_every_example_the_same_total_weight()
    {
        var seqs = Sequences(3, seed: 9);
        var w = FineTuner.StepWeights(seqs, LossWeighting.Examples);
        // 5 examples (2 + 2 + 1), each with 2 loss tokens here; make one longer to see the difference.
        seqs[0].Targets[3] = 9;
        w = FineTuner.StepWeights(seqs, LossWeighting.Examples);
        var perExample = new Dictionary<(int, int), double>();
        for (int k = 0; k < seqs.Count; k++)
            for (int t = 0; t < 16; t++)
                if (seqs[k].Targets[t] >= 0) perExample[(k, seqs[k].Segments[t])] = perExample.GetValueOrDefault((k, seqs[k].Segments[t])) + w[k][t];
        Assert.Equal(5, perExample.Count);
        Assert.All(perExample.Values, v => Assert.Equal(0.2, v, 6));
        var tokens = FineTuner.StepWeights(seqs, LossWeighting.Tokens);
        Assert.All(tokens.SelectMany(a => a).Where(v => v != 0), v => Assert.Equal(1f / 11, v, 6));
    }

    [Fact]
    public void Epochs_visit_every_sequence_once_in_a_seeded_order()
    {
        using var baseModel = RandomModel(Config(16), 1);
        var data = Sequences(10, seed: 4);
        var tuner = FineTuner.Create(baseModel, data, new FineTuneOptions { TokensPerStep = 4 * 16, BatchSize = 2, Epochs = 3, Seed = 8 }, Path.Combine(_dir, "epochs"));
        Assert.Equal(4, tuner.SequencesPerStep);
        Assert.Equal(3, tuner.StepsPerEpoch);    // 4 + 4 + 2
        Assert.Equal(9, tuner.TotalSteps);
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = Enumerable.Range(0, 3).SelectMany(j => tuner.StepSequences(epoch * 3 + j).ToArray()).ToArray();
            Assert.Equal(Enumerable.Range(0, 10), seen.Order());
        }
        Assert.NotEqual(tuner.EpochOrder(0), tuner.EpochOrder(1));
        Assert.Equal(tuner.EpochOrder(1), tuner.EpochOrder(1));
        Assert.Equal(1, tuner.WarmupSteps); // 3% of 9, rounded up
        // The short last step of an epoch trains (its second micro-batch is all padding rows).
        for (int s = 0; s < 3; s++) Assert.True(float.IsFinite(tuner.TrainStep().Loss));
    }

    [Fact]
    public void Bad_sequences_are_refused_naming_sequence_and_token()
    {
        using var baseModel = RandomModel(Config(16), 1);
        var data = Sequences(3, seed: 4);
        data[2].Targets[15] = 5; // a padding position with a target
        var e = Assert.Throws<ArgumentException>(() => FineTuner.Create(baseModel, data, new FineTuneOptions { TokensPerStep = 32 }, Path.Combine(_dir, "bad")));
        Assert.Contains("training sequence 2, token 15", e.Message);
        data = Sequences(3, seed: 4);
        data[1].Inputs[4] = Vocab;
        e = Assert.Throws<ArgumentException>(() => FineTuner.Create(baseModel, data, new FineTuneOptions { TokensPerStep = 32 }, Path.Combine(_dir, "bad")));
        Assert.Contains("training sequence 1, token 4", e.Message);
        e = Assert.Throws<ArgumentException>(() => FineTuner.Create(baseModel, Sequences(3, 4), new FineTuneOptions { TokensPerStep = 40 }, Path.Combine(_dir, "bad")));
        Assert.Contains("--tokens-per-step", e.Message);
        e = Assert.Throws<ArgumentException>(() => FineTuner.Create(baseModel, Sequences(3, 4), new FineTuneOptions { TokensPerStep = 32, Merge = true }, Path.Combine(_dir, "bad")));
        Assert.Contains("--merge", e.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Resumed_run_reproduces_the_uninterrupted_run_bit_for_bit(bool lora)
    {
        var basePath = Path.Combine(_dir, "base.gguf");
        using (var m = RandomModel(Config(16), 2)) GgufModelWriter.Save(basePath, m, GgufOutputType.F32);
        var data = Sequences(12, seed: 5);
        var val = Sequences(3, seed: 6);
        var options = new FineTuneOptions
        {
            TokensPerStep = 4 * 16, BatchSize = 2, Epochs = 2, LearningRate = 3e-3f, Seed = 3, CheckpointEvery = 2, ValidateEvery = 2, BaseModel = basePath,
            Lora = lora ? new LoraSettings(4, 8, LoraTargets.All, 0.1f) : null,
        };
        string full = Path.Combine(_dir, "full"), cut = Path.Combine(_dir, "cut");
        using (var baseModel = ModelLoader.Load(basePath))
        {
            var uninterrupted = FineTuner.Create(baseModel, data, options, full, val);
            uninterrupted.Run();
            var interrupted = FineTuner.Create(baseModel, data, options, cut, val);
            for (int s = 0; s < 3; s++) interrupted.TrainStep(); // checkpoint at step 2; step 3 is lost
        }
        var resumed = FineTuner.Resume(cut);
        Assert.Equal(2, resumed.Step);
        resumed.Run();
        Assert.Equal(File.ReadAllLines(Path.Combine(full, "metrics.jsonl")).Select(StripTimes), File.ReadAllLines(Path.Combine(cut, "metrics.jsonl")).Select(StripTimes));
        var a = FineTuneCheckpoint.Load(Path.Combine(full, FineTuneCheckpoint.FileName));
        var b = FineTuneCheckpoint.Load(Path.Combine(cut, FineTuneCheckpoint.FileName));
        Assert.Equal(a.Parameters, b.Parameters);
        Assert.Equal(a.SecondMoments, b.SecondMoments);
        if (lora)
        {
            Assert.True(File.Exists(Path.Combine(cut, "adapter", "adapter_model.safetensors")));
            Assert.False(File.Exists(Path.Combine(cut, "model.gguf")));
            Assert.Equal(a.Parameters.Length, resumed.Model.LoraParameters.Length);
        }
        else Assert.True(File.Exists(Path.Combine(cut, "model.gguf")));

        static string StripTimes(string line) => string.Join(",", line.Split(',').Where(f => !f.Contains("tokens_per_s", StringComparison.Ordinal) && !f.Contains("elapsed_s", StringComparison.Ordinal)));
    }

    [Fact]
    public void Lora_resume_refuses_a_changed_base_and_changed_data()
    {
        var basePath = Path.Combine(_dir, "base.gguf");
        using (var m = RandomModel(Config(16), 2)) GgufModelWriter.Save(basePath, m, GgufOutputType.F32);
        var run = Path.Combine(_dir, "run");
        var options = new FineTuneOptions { TokensPerStep = 32, Epochs = 1, BaseModel = basePath, Lora = new LoraSettings(2, 4), CheckpointEvery = 1 };
        using (var baseModel = ModelLoader.Load(basePath))
            FineTuner.Create(baseModel, Sequences(6, 1), options, run).TrainStep();
        using (var other = RandomModel(Config(16), 3)) GgufModelWriter.Save(basePath, other, GgufOutputType.F32);
        var e = Assert.Throws<Elongate.Common.ModelFormatException>(() => FineTuner.Resume(run));
        Assert.Contains("base model's weights differ", e.Message);
        var seqPath = Path.Combine(run, FineTuner.SequencesFileName);
        var bytes = File.ReadAllBytes(seqPath);
        bytes[^1] ^= 1;
        File.WriteAllBytes(seqPath, bytes);
        e = Assert.Throws<Elongate.Common.ModelFormatException>(() => FineTuner.Resume(run));
        Assert.Contains("sequences changed", e.Message);
        Assert.Throws<ArgumentException>(() => FineTuner.Create(RandomModel(Config(16), 2), Sequences(6, 1), options, run));
    }

    /// <summary>
    /// End to end, in seconds: a random-init model fine-tuned (full: 12 epochs, 180 steps; LoRA r = 8 on all seven
    /// projections: 40 epochs, 600 steps) on 240 packed/padded sequences of the "repeat the first word" task. Greedy
    /// accuracy on 60 held-out sequences (100 questions never seen), measured: base 3%, full 100% (validation loss
    /// 0.30), LoRA 83–100% (validation loss 2.6–2.7: the adapters cannot rescale the random base's tiny embeddings and output
    /// head, so the right answer wins with little margin). The exports load and score the same.
    /// </summary>
    [Fact]
    public void Fine_tuning_learns_a_synthetic_instruction_task_full_and_lora()
    {
        var config = Config(16);
        using var baseModel = RandomModel(config, 7);
        var train = Sequences(240, seed: 10);
        var heldOut = Sequences(60, seed: 11);
        double before = AnswerAccuracy(baseModel, heldOut);

        var full = FineTuner.Create(baseModel, train, new FineTuneOptions { TokensPerStep = 16 * 16, BatchSize = 16, Epochs = 12, LearningRate = 3e-3f, Seed = 1 },
            Path.Combine(_dir, "full"), heldOut);
        var fullSummary = full.Run();
        using var fullModel = ModelLoader.Load(fullSummary.GgufPath!);
        double afterFull = AnswerAccuracy(fullModel, heldOut);

        var lora = FineTuner.Create(baseModel, train, new FineTuneOptions
        {
            TokensPerStep = 16 * 16, BatchSize = 16, Epochs = 40, LearningRate = 1e-2f, Seed = 1, Lora = new LoraSettings(8, 16), Merge = true,
        }, Path.Combine(_dir, "lora"), heldOut);
        var loraSummary = lora.Run();
        var applied = LoraAdapter.Load(loraSummary.AdapterFolder!).ApplyTo(baseModel);
        double afterLora = AnswerAccuracy(applied, heldOut);
        using var merged = ModelLoader.Load(loraSummary.GgufPath!);
        Assert.Equal(afterLora, AnswerAccuracy(merged, heldOut));

        var message = $"held-out accuracy: base {before:P0}, full {afterFull:P0} (val loss {fullSummary.FinalValidationLoss:F3}), LoRA {afterLora:P0} (val loss {loraSummary.FinalValidationLoss:F3})";
        Assert.True(before < 0.2, message);
        Assert.True(afterFull > 0.9, message);
        // LoRA's margin is thin (see above): which questions flip depends on the fp32 rounding of 600 steps. Measured
        // 100 % with the row-by-row attention kernel and 83 % with the register-tiled one (validation loss 2.6 and 2.67);
        // the bound asks for far above the base's 3 %, not for one trajectory's exact count.
        Assert.True(afterLora > 0.75, message);
        Assert.True(File.Exists(fullSummary.LossPlotPath));
        Assert.True(File.Exists(Path.Combine(fullSummary.SafetensorsFolder!, "model.safetensors")));
    }
}
