using System.CommandLine;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Cli.Commands;

/// <summary>Runs a command body and turns expected failures into one clear line on stderr and an exit code.</summary>
internal static class CliErrors
{
    /// <summary>
    /// 1 for bad files, 2 for bad arguments, 3 for a context that does not fit in memory, 4 for a model server that
    /// cannot be reached or refuses the request, 5 for training that diverged (non-finite loss or gradient, dead
    /// gradients); anything else is a bug and keeps its stack trace.
    /// </summary>
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
        catch (Training.TrainingDivergedException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 5;
        }
        catch (ArgumentException e)
        {
            stderr.WriteLine($"{command}: {e.Message}");
            return 2;
        }
        catch (Serving.RemoteModelException e)
        {
            stderr.WriteLine($"{command}: model server: {e.Message}");
            return 4;
        }
        catch (Data.SelfInstructTeacherException e)
        {
            stderr.WriteLine($"{command}: model server: {e.Message}");
            return 4;
        }
        catch (Exception e) when (ServerFailure(e) is { } message)
        {
            stderr.WriteLine($"{command}: model server: {message}");
            return 4;
        }
    }

    /// <summary>
    /// The message of a model-server failure anywhere in <paramref name="e"/>'s chain (the OpenAI client wraps
    /// connection errors in ClientResultException and its retries in AggregateException), or null for other errors.
    /// </summary>
    private static string? ServerFailure(Exception e)
    {
        for (Exception? x = e; x is not null; x = x is AggregateException a ? a.InnerExceptions[0] : x.InnerException)
        {
            if (x is System.ClientModel.ClientResultException { Status: > 0 } r) return $"HTTP {r.Status}: {r.Message}";
            if (x is HttpRequestException h) return h.Message;
        }
        return null;
    }
}
