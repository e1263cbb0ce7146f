using System.CommandLine;
using Elongate.Cli.Commands;

namespace Elongate.Cli;

/// <summary>The `elongate` command tree, built in one place so tests run exactly what users run.</summary>
public static class ElongateCli
{
    public static RootCommand Build()
    {
        var root = new RootCommand("Elongate: stretch a Llama-family model's context window and measure whether it uses it.");
        // Each command lives in Commands/ and is added here, one line each.
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(GenerateCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(RopeCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ExtendCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        return root;
    }

    /// <summary>Runs the CLI in-process with the given writers; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Build().Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
}
