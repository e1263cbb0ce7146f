using System.CommandLine;

namespace Elongate.Cli.Commands;

/// <summary>`elongate eval loss|passkey|first-sentence|repeated-tokens|needle|tasks`: does a model use its context? One subcommand per measure.</summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var cmd = new Command("eval", "Long-context evaluation: loss against context, passkey, first-sentence retrieval, repeated random tokens (induction), needle in a haystack, long-document tasks");
        cmd.Subcommands.Add(EvalLossCommand.Create());
        cmd.Subcommands.Add(EvalPasskeyCommand.Create());
        cmd.Subcommands.Add(EvalFirstSentenceCommand.Create());
        cmd.Subcommands.Add(EvalRepeatedTokensCommand.Create());
        cmd.Subcommands.Add(EvalNeedleCommand.Create());
        cmd.Subcommands.Add(EvalTasksCommand.Create());
        return cmd;
    }
}
