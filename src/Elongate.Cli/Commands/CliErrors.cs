using System.CommandLine;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>Runs a command body and turns expected failures into one clear line on stderr and an exit code.</summary>
internal static class CliErrors
{
    /// <summary>1 for bad files, 2 for bad arguments, 3 for a context that does not fit in memory; anything else is a bug and keeps its stack trace.</summary>
    public static int Run(ParseResult parse, string command, Func<TextWriter, TextWriter, int> body)
    {
        var stdout = parse.InvocationConfiguration.Output;
        var stderr = parse.InvocationConfiguration.Error;
        try
        {
            return body(stdout, stderr);
        }
        catch (ModelFormatException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 1;
        }
        catch (Model.ContextMemoryException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 3;
        }
        catch (IOException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 1;
        }
        catch (UnauthorizedAccessException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 1;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 2;
        }
    }
}
