using System.CommandLine;

namespace Elongate.Cli.Commands;

/// <summary>`elongate info MODEL`: architecture, tensors, RoPE settings and vocabulary summary.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model file (GGUF, llama2.c .bin, or a Hugging Face folder / config.json)" };
        var cmd = new Command("info", "Print a model's architecture, tensors, RoPE settings and vocabulary") { model };
        cmd.SetAction(parse =>
        {
            Console.WriteLine($"info: {parse.GetValue(model)}");
            return 0;
        });
        return cmd;
    }
}
