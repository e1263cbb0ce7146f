namespace Elongate.Serving;

/// <summary>
/// A remote model's server could not be used: unreachable, timed out, refused the key, rejected the request, or
/// answered with something that is not the expected JSON. The message names the URL and, when there was one, the
/// HTTP status and the server's own message.
/// </summary>
public sealed class RemoteModelException : Exception
{
    /// <param name="url">The URL asked.</param>
    /// <param name="status">The HTTP status, or null when no response came.</param>
    /// <param name="message">What went wrong, for a person.</param>
    /// <param name="inner">The underlying failure, if any.</param>
    public RemoteModelException(Uri url, int? status, string message, Exception? inner = null) : base(message, inner)
    {
        Url = url;
        Status = status;
    }

    /// <summary>The URL that failed.</summary>
    public Uri Url { get; }

    /// <summary>The HTTP status the server answered with, or null when there was no answer.</summary>
    public int? Status { get; }
}
