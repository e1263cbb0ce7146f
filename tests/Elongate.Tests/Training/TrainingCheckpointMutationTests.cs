using Elongate.Data;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;
using Elongate.Training;
using Elongate.Common;

namespace Elongate.Tests.Training;

/// <summary>
/// checkpoint.elck and report.json are formats Elongate owns: corrupted copies are either read or rejected with
/// <see cref="ModelFormatException"/>, never another exception or a hang.
/// </summary>
public sealed class TrainingCheckpointMutationTests
{
    private static byte[] SmallCheckpoint(out int headerLength)
    {
        var config = new LlamaConfig
        {
            HiddenSize = 8, IntermediateSize = 8, NumLayers = 1, NumHeads = 2, NumKvHeads = 1, VocabSize = 12, MaxPositionEmbeddings = 16,
            RopeScaling = new Elongate.Rope.RopeScaling { Type = "yarn", Factor = 2, OriginalContext = 8 },
        };
        long n = ModelPresets.NonEmbeddingParameters(config) + 2L * 12 * 8;
        var rng = new Random(1);
        float[] Random() => Enumerable.Range(0, (int)n).Select(_ => (float)rng.NextDouble()).ToArray();
        var ckpt = new TrainingCheckpoint
        {
            Config = config,
            Options = new TrainerOptions
            {
                Sources = [new TrainingSource("a", "/data/a", 0.5), new TrainingSource("b", "/data/b", 0.5)],
                SeqLen = 8, TokensPerStep = 32, BatchSize = 2, Steps = 10, WarmupSteps = 2, Deterministic = true,
            },
            Vocabulary = new TokenVocabulary
            {
                Pieces = Enumerable.Range(0, 12).Select(i => $"p{i}").ToArray(), Scores = new float[12],
                Types = Enumerable.Repeat(TokenType.Normal, 12).ToArray(),
            },
            Step = 3, OptimizerStep = 3, Parameters = Random(), FirstMoments = Random(), SecondMoments = Random(),
            Packers = [new SequencePackerState(0, 1, 2), new SequencePackerState(1, 0, 5)], MixtureState = 77, DataSizes = [3, 100, 4, 200],
            MetricsLength = 123, TokensSeen = 96,
        };
        var path = Path.Combine(Path.GetTempPath(), $"elongate-ckpt-{Guid.NewGuid():N}.elck");
        try
        {
            ckpt.Save(path);
            var bytes = File.ReadAllBytes(path);
            headerLength = 16 + (int)BitConverter.ToInt64(bytes, 8) + 8;
            return bytes;
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Valid_checkpoint_reads_back_exactly()
    {
        var bytes = SmallCheckpoint(out _);
        var c = TrainingCheckpoint.Load(new MemoryStream(bytes), "<memory>");
        Assert.Equal(3, c.Step);
        Assert.Equal(77UL, c.MixtureState);
        Assert.Equal([3L, 100, 4, 200], c.DataSizes);
        Assert.Equal("yarn", c.Config.RopeScaling!.Type);
        Assert.Equal(12, c.Vocabulary!.Count);
        Assert.Equal(new SequencePackerState(1, 0, 5), c.Packers[1]);
    }

    [Fact]
    public void Ten_thousand_mutated_checkpoints_are_read_or_rejected_cleanly()
    {
        var bytes = SmallCheckpoint(out int header);
        int rejected = HeaderMutator.Run(bytes, header, 10_000, seed: 20261126, b => TrainingCheckpoint.Load(new MemoryStream(b), "mutant.elck"));
        Assert.InRange(rejected, 5_000, 10_000);
    }

    [Fact]
    public void Every_single_bit_flip_anywhere_in_a_checkpoint_is_detected()
    {
        // The checksums cover every byte: header, state, the three tensors and the checksums themselves.
        var bytes = SmallCheckpoint(out _);
        var rng = new Random(20261201);
        int positions = 0;
        for (int pos = 0; pos < bytes.Length; pos++)
        {
            var mutant = (byte[])bytes.Clone();
            mutant[pos] ^= (byte)(1 << rng.Next(8));
            Assert.Throws<ModelFormatException>(() => TrainingCheckpoint.Load(new MemoryStream(mutant), "mutant.elck"));
            positions++;
        }
        Assert.Equal(bytes.Length, positions);
    }

    [Fact]
    public void Version_1_checkpoints_without_checksums_still_load()
    {
        var v2 = SmallCheckpoint(out _);
        var v1 = v2.AsSpan(0, v2.Length - 32).ToArray();
        v1[4] = 1;
        Assert.Equal(3, TrainingCheckpoint.Load(new MemoryStream(v1), "<v1>").Step);
    }

    [Fact]
    public void Mutated_report_json_is_read_or_rejected_cleanly()
    {
        var dir = Directory.CreateTempSubdirectory("elongate-report").FullName;
        try
        {
            var report = new CorpusReport
            {
                Tokenizer = "/t/tokenizer.model", TokenizerCopy = "tokenizer.model", VocabSize = 512, BosId = 1, EosId = 2, ValidationFraction = 0.1,
                Train = LengthReport.From([5, 9, 300]), Validation = LengthReport.From([7]),
                Sources = [new CorpusSourceStats("/x/a.txt", 10, 3, 314, 2, 1, 0)],
            };
            report.Save(dir);
            var valid = File.ReadAllBytes(Path.Combine(dir, CorpusReport.FileName));
            var target = Path.Combine(dir, "m");
            Directory.CreateDirectory(target);
            int rejected = HeaderMutator.Run(valid, valid.Length, 2_000, seed: 7, b =>
            {
                File.WriteAllBytes(Path.Combine(target, CorpusReport.FileName), b);
                CorpusReport.Load(target);
            });
            Assert.InRange(rejected, 500, 2_000);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
