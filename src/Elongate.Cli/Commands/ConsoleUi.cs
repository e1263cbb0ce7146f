using Spectre.Console;

namespace Elongate.Cli.Commands;

/// <summary>
/// Spectre.Console over the command's stdout writer. Live progress bars are drawn only on a real terminal; when
/// stdout is redirected (a file, a pipe, a test's StringWriter) commands print plain lines instead.
/// </summary>
internal static class ConsoleUi
{
    /// <summary>True when <paramref name="stdout"/> is the process's console and that console is a terminal.</summary>
    public static bool IsInteractive(TextWriter stdout) =>
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected;

    /// <summary>An ANSI console writing to <paramref name="stdout"/>, with colour and live rendering only when interactive.</summary>
    public static IAnsiConsole Create(TextWriter stdout)
    {
        bool live = IsInteractive(stdout);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = live ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = live ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = live ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!live) console.Profile.Width = 160;
        return console;
    }
}
