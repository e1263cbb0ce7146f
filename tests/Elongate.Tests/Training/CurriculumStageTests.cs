using Elongate.Data;
using Elongate.Model;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>
/// A run continued by another (<see cref="Trainer.ContinueFrom"/> with <see cref="TrainerOptions.ScheduleOffset"/>,
/// the curriculum experiment's switch): split at any step, the two stages are the one run — same losses, learning
/// rates and final weights, bit for bit — and the data stream continues across a change of sequence length.
/// </summary>
public sealed class CurriculumStageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-stages").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private static LlamaConfig Tiny(int seqLen) => new()
    {
        HiddenSize = 16, IntermediateSize = 32, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = TrainingTestData.VocabSize, MaxPositionEmbeddings = seqLen,
    };

    private TrainerOptions Options(int steps)
    {
        string a = Path.Combine(_dir, "books"), b = Path.Combine(_dir, "notes");
        if (!Directory.Exists(a))
        {
            TrainingTestData.Prepare(_dir, a, documents: 6, words: 150, validation: 1, seed: 5);
            TrainingTestData.Prepare(_dir, b, documents: 5, words: 60, validation: 1, seed: 8);
        }
        // Two weighted sources, upsampling and 2 micro-batches per step: the whole data state must carry over.
        return new TrainerOptions
        {
            Sources = [new TrainingSource("books", a, 0.7), new TrainingSource("notes", b, 0.3)],
            SeqLen = 16, TokensPerStep = 64, BatchSize = 2, Steps = steps, LearningRate = 3e-3f, WarmupSteps = 3,
            ValidationWindows = 2, Seed = 11, UpsampleThreshold = 100, UpsampleFactor = 2,
        };
    }

    [Fact]
    public void Two_stages_continuing_one_schedule_equal_the_single_run_bit_for_bit()
    {
        var config = Tiny(16);
        var whole = new List<TrainingMetrics>();
        float[] wholeParams;
        using (var t = Trainer.Create(config, Options(9), Path.Combine(_dir, "whole")))
        {
            while (t.Step < 9) whole.Add(t.TrainStep());
            wholeParams = t.Model.Parameters.ToArray();
        }

        var staged = new List<TrainingMetrics>();
        using var first = Trainer.Create(config, Options(4) with { ScheduleSteps = 9 }, Path.Combine(_dir, "first"));
        while (first.Step < 4) staged.Add(first.TrainStep());
        using var second = Trainer.Create(config, Options(5) with { ScheduleOffset = 4 }, Path.Combine(_dir, "second"),
            first.Model.ToModel(first.RunDirectory).Weights, first.Model.Vocabulary);
        second.ContinueFrom(first);
        Assert.Equal(first.TokensSeen, second.TokensSeen);
        while (second.Step < 5) staged.Add(second.TrainStep());

        Assert.Equal(whole.Select(m => m.LearningRate), staged.Select(m => m.LearningRate));
        Assert.Equal(whole.Select(m => m.Loss), staged.Select(m => m.Loss));
        Assert.Equal(whole.Select(m => m.Tokens), staged.Select(m => m.Tokens));
        Assert.Equal(wholeParams, second.Model.Parameters);

        // Without the optimizer state and data position (a plain continual-pretraining start) the run differs.
        using var fresh = Trainer.Create(config, Options(5) with { ScheduleOffset = 4 }, Path.Combine(_dir, "fresh"),
            first.Model.ToModel(first.RunDirectory).Weights, first.Model.Vocabulary);
        Assert.NotEqual(staged[4].Loss, fresh.TrainStep().Loss);
    }

    [Fact]
    public void Schedule_offset_and_length_place_a_stage_inside_one_cosine()
    {
        var o = Options(4) with { ScheduleSteps = 10, WarmupSteps = 2 };
        var whole = Options(10) with { WarmupSteps = 2 };
        Assert.Equal(whole.Schedule, o.Schedule);
        var later = Options(6) with { ScheduleOffset = 4, WarmupSteps = 2 };
        Assert.Equal(whole.Schedule, later.Schedule);
        Assert.Throws<ArgumentException>(() => (Options(3) with { ScheduleOffset = -1 }).Validate());
        Assert.Throws<ArgumentException>(() => (Options(3) with { ScheduleSteps = 0 }).Validate());
    }

    [Fact]
    public void A_resume_with_more_steps_keeps_an_explicit_schedule_length()
    {
        var config = Tiny(16);
        var run = Path.Combine(_dir, "short");
        var lrs = new List<float>();
        using (var t = Trainer.Create(config, Options(2) with { ScheduleSteps = 6 }, run)) t.Run();
        using (var t = Trainer.Resume(run, new ResumeChanges(Steps: 4)))
        {
            Assert.Equal(6, t.Options.Schedule.TotalSteps);
            while (t.Step < 4) lrs.Add(t.TrainStep().LearningRate);
        }
        var schedule = (Options(6)).Schedule;
        Assert.Equal([schedule.At(2), schedule.At(3)], lrs);
    }

    [Fact]
    public void Packer_position_continues_at_another_sequence_length()
    {
        var o = Options(1);
        using var shard = TokenShard.Open(Path.Combine(o.Sources[0].Directory, CorpusPreparer.TrainFile));
        var shortPacker = new SequencePacker(shard, 16, seed: 3, chunkTokens: 40);
        var reference = new SequencePacker(shard, 16, seed: 3, chunkTokens: 40);
        var (t16, s16) = (new int[17], new int[17]);
        for (int i = 0; i < 5; i++) { shortPacker.Next(t16, s16); reference.Next(t16, s16); }
        var longPacker = new SequencePacker(shard, 64, seed: 3, chunkTokens: 40);
        longPacker.Restore(shortPacker.State);
        var (t64, s64) = (new int[65], new int[65]);
        longPacker.Next(t64, s64);
        // The next 64 + 1 tokens are the next four 16-token windows of the short packer (each shares one token with the next).
        var expected = new List<int>();
        for (int i = 0; i < 4; i++)
        {
            reference.Next(t16, s16);
            expected.AddRange(i == 0 ? t16 : t16[1..]);
        }
        Assert.Equal(expected, t64);
    }

    [Fact]
    public void Continuing_is_refused_after_a_step_or_with_another_data_order()
    {
        var config = Tiny(16);
        using var first = Trainer.Create(config, Options(2), Path.Combine(_dir, "a"));
        first.TrainStep();
        using var stepped = Trainer.Create(config, Options(2), Path.Combine(_dir, "b"));
        stepped.TrainStep();
        Assert.Contains("before its first step", Assert.Throws<ArgumentException>(() => stepped.ContinueFrom(first)).Message);
        using var otherSeed = Trainer.Create(config, Options(2) with { Seed = 12 }, Path.Combine(_dir, "c"));
        Assert.Contains("data stream", Assert.Throws<ArgumentException>(() => otherSeed.ContinueFrom(first)).Message);
        using var bigger = Trainer.Create(config with { HiddenSize = 32 }, Options(2), Path.Combine(_dir, "d"));
        Assert.Contains("not the same model", Assert.Throws<ArgumentException>(() => bigger.ContinueFrom(first)).Message);
    }
}
