namespace Elongate.Data;

/// <summary>
/// The teacher cannot be used: its endpoint is unreachable after the retries, or rejects the request as unauthorized
/// (HTTP 401/403). The run stops; what was written so far stays valid and a rerun resumes from it.
/// </summary>
public sealed class SelfInstructTeacherException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SelfInstructTeacherException(string message, Exception? inner = null) : base(message, inner) { }

    /// <summary>Creates the exception.</summary>
    public SelfInstructTeacherException() { }

    /// <summary>Creates the exception.</summary>
    public SelfInstructTeacherException(string message) : base(message) { }
}
