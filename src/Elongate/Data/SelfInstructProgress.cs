namespace Elongate.Data;

/// <summary>Progress of a self-instruct run, after each decided work item.</summary>
/// <param name="Done">Items decided by this run.</param>
/// <param name="Total">Items this run has to decide (resumed ones excluded).</param>
/// <param name="Kept">Examples written.</param>
/// <param name="Rejected">Items rejected.</param>
/// <param name="TeacherTokens">Tokens the teacher generated so far (as its usage reports).</param>
/// <param name="Seconds">Time since the start.</param>
public sealed record SelfInstructProgress(int Done, int Total, int Kept, int Rejected, long TeacherTokens, double Seconds)
{
    /// <summary>Teacher tokens per second.</summary>
    public double TokensPerSecond => Seconds > 0 ? TeacherTokens / Seconds : 0;
}
