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
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(TokenizeCommand.Create());
        root.Subcommands.Add(RopeCommand.Create());
        root.Subcommands.Add(DataCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(ExtendCommand.Create());
        root.Subcommands.Add(FineTuneCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(ExperimentCommand.Create());
        return root;
    }

    /// <summary>Runs the CLI in-process with the given writers; returns the exit code.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) =>
        Build().Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });

    /// <summary>Runs with <paramref name="stdin"/> as the input interactive commands read (generate --chat), for tests and embedding.</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader stdin)
    {
        var previous = InputOverride.Value;
        InputOverride.Value = stdin;
        try
        {
            return Run(args, stdout, stderr);
        }
        finally
        {
            InputOverride.Value = previous;
        }
    }

    // Per async flow, so tests running in parallel each see their own input.
    private static readonly AsyncLocal<TextReader?> InputOverride = new();

    /// <summary>What interactive commands read: the reader given to <see cref="Run(string[], TextWriter, TextWriter, TextReader)"/>, else the console.</summary>
    internal static TextReader Input => InputOverride.Value ?? Console.In;
}
