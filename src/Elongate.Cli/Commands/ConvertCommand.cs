using System.CommandLine;
using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate convert IN OUT`: between GGUF, llama2.c and Hugging Face safetensors. The output format follows OUT
/// (.gguf, .bin, else a Hugging Face folder); RoPE settings, including command-line overrides, are written with it.
/// </summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("in") { Description = "Input model (GGUF, llama2.c .bin, Hugging Face folder or config.json)" };
        var output = new Argument<string>("out") { Description = "Output: NAME.gguf, NAME.bin (llama2.c) or a folder (Hugging Face safetensors + config.json)" };
        var type = new Option<string>("--type") { Description = "Weight type. GGUF: f32, f16, bf16, q8_0, or a llama-quantize mixture q4_0, q4_1, q5_0, q5_1, q4_k_s, q4_k_m (= q4_k), q5_k_s, q5_k_m (= q5_k), q6_k; safetensors: f32, f16, bf16; llama2.c: f32", DefaultValueFactory = _ => "f32" };
        var tokenizer = new Option<string?>("--tokenizer") { Description = "Vocabulary to embed in a GGUF output when the input has none (tokenizer.model / tokenizer.bin)" };
        var rope = new RopeOverrides();
        var load = new ModelOptions();
        var cmd = new Command("convert", "Convert a model between GGUF, llama2.c and Hugging Face safetensors") { input, output, type, tokenizer };
        rope.AddTo(cmd);
        load.AddTo(cmd, running: false);
        cmd.SetAction(parse => CliErrors.Run(parse, "convert", (stdout, _) =>
        {
            using var m = load.Load(parse, parse.GetValue(input)!);
            var (config, _) = rope.Apply(m.Config, parse, m.Source);
            var vocab = parse.GetValue(tokenizer) is { } t ? GenerateCommand.LoadTokenizer(t, m).Vocabulary : m.Vocabulary;
            var outModel = m.With(config, vocab);
            var outPath = parse.GetValue(output)!;
            ModelLoader.Save(outModel, outPath, parse.GetValue(type)!, vocab);
            stdout.WriteLine($"wrote {outPath} ({ModelLoader.FormatForOutput(outPath)}, {parse.GetValue(type)}{(vocab is null ? ", no vocabulary" : $", {vocab.Count}-piece vocabulary")})");
            return 0;
        }));
        return cmd;
    }
}
