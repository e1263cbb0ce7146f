using System.CommandLine;
using Elongate.Data;
using Elongate.Model;
using Elongate.Training;
using Elongate.Training.Distributed;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate train --data DIR --preset 5m|... (or --dim --layers --heads [--kv-heads] [--ffn]) --seq-len N
/// --tokens-per-step N --steps N --out RUN [--rope-*] | --resume RUN`: pretraining from scratch.
/// </summary>
public static class TrainCommand
{
    public static Command Create()
    {
        var preset = new Option<string?>("--preset")
        {
            Description = "Model size (non-embedding parameters): 1m = dim 128, 4 layers, 4 heads, ffn 384 (0.85M); 5m = dim 256, 6 layers, 8 heads, ffn 768 (5.1M); "
                + "20m = dim 512, 6 layers, 8 heads, ffn 1408 (19.3M); 100m = dim 768, 14 layers, 12 heads, ffn 2048 (99.1M). --dim etc. override single values",
        };
        var dim = new Option<int?>("--dim") { Description = "Model width" };
        var layers = new Option<int?>("--layers") { Description = "Decoder layers" };
        var heads = new Option<int?>("--heads") { Description = "Attention heads" };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "Key/value heads for grouped-query attention (default: --heads)" };
        var ffn = new Option<int?>("--ffn") { Description = "SwiGLU hidden width (default: 8/3·dim rounded up to a multiple of 32)" };
        var tied = new Option<bool>("--tied") { Description = "Share the token embedding and output matrices" };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (Llama 2 7B: 3e-4)", DefaultValueFactory = _ => 3e-4f };
        var set = new TrainingOptionSet();
        var rope = new RopeOverrides();
        var cmd = new Command("train", "Pretrain a Llama-style model from scratch on prepared data") { preset, dim, layers, heads, kvHeads, ffn, tied, lr };
        set.AddTo(cmd);
        rope.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "train", (stdout, stderr) =>
        {
            var world = Communicator.World;
            // Under mpirun only rank 0 prints progress; errors still come from every rank.
            if (world.Rank != 0) stdout = TextWriter.Null;
            if (world.Size == 1 && set.RelaunchIfDeterministic(parse, stdout, stderr) is { } exitCode) return exitCode;
            if (parse.GetValue(set.Resume) is { } resume)
            {
                using var resumed = Trainer.Resume(resume, set.ResumeChanges(parse, cmd, lr), world);
                return TrainingRunner.Run(resumed, stdout, parse.GetValue(set.LogEvery));
            }
            var options = set.Build(parse, parse.GetValue(lr));
            int vocab = CorpusReport.Load(options.Sources[0].Directory).VocabSize;
            var (d, l, h, f) = parse.GetValue(preset) is { } p ? ModelPresets.Dimensions(p) : (0, 0, 0, 0);
            d = parse.GetValue(dim) ?? d;
            l = parse.GetValue(layers) ?? l;
            h = parse.GetValue(heads) ?? h;
            if (d <= 0 || l <= 0 || h <= 0) throw new ArgumentException("give --preset (1m, 5m, 20m, 100m) or --dim, --layers and --heads");
            f = parse.GetValue(ffn) ?? (parse.GetValue(dim) is null && f > 0 ? f : (8 * d / 3 + 31) / 32 * 32);
            var config = new LlamaConfig
            {
                HiddenSize = d, NumLayers = l, NumHeads = h, NumKvHeads = parse.GetValue(kvHeads) ?? h, IntermediateSize = f,
                VocabSize = vocab, MaxPositionEmbeddings = options.SeqLen, TieWordEmbeddings = parse.GetValue(tied),
            };
            (config, _) = rope.Apply(config, parse, "<command line>");
            using var trainer = Trainer.Create(config, options, set.OutDirectory(parse), communicator: world);
            return TrainingRunner.Run(trainer, stdout, parse.GetValue(set.LogEvery));
        }));
        return cmd;
    }
}
