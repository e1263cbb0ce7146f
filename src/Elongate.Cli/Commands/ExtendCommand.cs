using System.CommandLine;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Training;
using Elongate.Training.Distributed;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate extend --model M --data DIR --seq-len N --out RUN [--rope-*] ...`: continual pretraining to a longer
/// context (the paper's recipe): load any checkpoint, change its RoPE (default ABF, base 500,000), and keep training
/// at the new sequence length with the same tokens per step.
/// </summary>
public static class ExtendCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model to extend: GGUF, llama2.c .bin, a Hugging Face folder, or an Elongate run folder (its model.gguf)" };
        var lr = new Option<float>("--lr") { Description = "Peak learning rate (paper: 2e-5 for 7B/13B)", DefaultValueFactory = _ => 2e-5f };
        var set = new TrainingOptionSet();
        var rope = new RopeOverrides();
        var cmd = new Command("extend",
            "Continual pretraining to a longer context. Defaults follow the paper: RoPE ABF with base 500,000 unless a --rope-* option is given "
            + "(--rope-scaling linear = Position Interpolation, yarn, xpos, ... with --rope-factor); lr 2e-5; linear warmup then cosine decay to 10% "
            + "of the peak; warmup 2,000 steps scaled down for short runs to min(2000, steps/10); the same tokens per step as the source model "
            + "(read from the checkpoint.elck beside a model trained by Elongate, else give --tokens-per-step), so sequences per step shrink as --seq-len grows")
        { model, lr };
        set.AddTo(cmd);
        rope.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "extend", (stdout, stderr) =>
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
            var path = parse.GetValue(model) ?? throw new ArgumentException("--model is required (or --resume RUN)");
            // An Elongate run folder stands for its exported model.
            if (Directory.Exists(path) && !File.Exists(Path.Combine(path, "config.json")) && File.Exists(Path.Combine(path, Trainer.GgufFileName)))
                path = Path.Combine(path, Trainer.GgufFileName);
            var source = ModelLoader.Load(path);
            var options = set.Build(parse, parse.GetValue(lr), SourceTokensPerStep(path));
            bool ropeGiven = new Option[] { rope.Base, rope.Scaling, rope.Factor, rope.OriginalContext, rope.BetaFast, rope.BetaSlow, rope.AttnFactor,
                rope.LowFreq, rope.HighFreq, rope.XposScaleBase }.Any(o => parse.GetResult(o) is not null);
            LlamaConfig config;
            if (ropeGiven) (config, _) = rope.Apply(source.Config, parse, source.Source);
            else config = source.Config with { RopeTheta = 500_000f, RopeScaling = null };
            config = config with { MaxPositionEmbeddings = options.SeqLen };
            using var trainer = Trainer.Create(config, options, set.OutDirectory(parse), source.Weights, source.Vocabulary, world);
            stdout.WriteLine($"extending {source.Source}: context {source.Config.MaxPositionEmbeddings} → {options.SeqLen}, RoPE θ {source.Config.RopeTheta:G} → {config.RopeTheta:G}{(config.RopeScaling is { } s ? ", " + s : "")}");
            return TrainingRunner.Run(trainer, stdout, parse.GetValue(set.LogEvery));
        }));
        return cmd;
    }

    /// <summary>Tokens per step of the Elongate run the model came from (its folder's checkpoint), if any.</summary>
    private static int? SourceTokensPerStep(string modelPath)
    {
        var full = Path.GetFullPath(modelPath);
        var dir = Directory.Exists(full) ? full : Path.GetDirectoryName(full)!;
        foreach (var d in new[] { dir, Path.GetDirectoryName(dir) })
        {
            if (d is null) continue;
            var ckpt = Path.Combine(d, TrainingCheckpoint.FileName);
            if (File.Exists(ckpt)) return TrainingCheckpoint.ReadOptions(ckpt).TokensPerStep;
        }
        return null;
    }
}
