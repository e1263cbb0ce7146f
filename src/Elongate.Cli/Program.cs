using System.CommandLine;
using Elongate.Cli.Commands;

var root = new RootCommand("Elongate: stretch a Llama-family model's context window and measure whether it uses it.");
// Each command lives in Commands/ and is added here, one line each.
root.Subcommands.Add(InfoCommand.Create());
root.Subcommands.Add(RopeCommand.Create());
root.Subcommands.Add(TokenizeCommand.Create());
root.Subcommands.Add(GenerateCommand.Create());
root.Subcommands.Add(ConvertCommand.Create());
return root.Parse(args).Invoke();
