namespace Elongate.Serving;

/// <summary>
/// A request the server refuses, as an OpenAI error object: the HTTP status, and
/// <c>{"error": {"message", "type", "param", "code"}}</c>.
/// </summary>
internal sealed class OpenAiError(int status, string message, string type = OpenAiError.InvalidRequest, string? param = null, string? code = null)
    : Exception(message)
{
    public const string InvalidRequest = "invalid_request_error";

    /// <summary>HTTP status code.</summary>
    public int Status { get; } = status;
    /// <summary>OpenAI error type, e.g. invalid_request_error.</summary>
    public string Type { get; } = type;
    /// <summary>The request field at fault, if one is.</summary>
    public string? Param { get; } = param;
    /// <summary>Machine-readable code, e.g. context_length_exceeded.</summary>
    public string? Code { get; } = code;

    /// <summary>400 invalid_request_error about <paramref name="param"/>.</summary>
    public static OpenAiError Invalid(string message, string? param = null, string? code = null) => new(400, message, InvalidRequest, param, code);
}
