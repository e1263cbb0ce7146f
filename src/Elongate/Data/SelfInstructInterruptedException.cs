namespace Elongate.Data;

/// <summary>
/// A self-instruct run was cancelled mid-way. Everything it decided is written as complete lines, its report (with
/// <see cref="SelfInstructReport.Interrupted"/> set) is written beside the output, and rerunning the same options resumes.
/// </summary>
public sealed class SelfInstructInterruptedException : OperationCanceledException
{
    /// <summary>Creates the exception for the partial run's <paramref name="report"/>.</summary>
    public SelfInstructInterruptedException(SelfInstructReport report, CancellationToken token)
        : base($"self-instruct interrupted after {report.Kept} kept and {report.Rejected.Values.Sum()} rejected items; rerun to resume", token) =>
        Report = report;

    /// <summary>Creates the exception without a report.</summary>
    public SelfInstructInterruptedException() { }

    /// <summary>Creates the exception without a report.</summary>
    public SelfInstructInterruptedException(string message) : base(message) { }

    /// <summary>Creates the exception without a report.</summary>
    public SelfInstructInterruptedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The report of the partial run (also written to <see cref="SelfInstructor.ReportPathFor"/>); null only for the report-less constructors.</summary>
    public SelfInstructReport? Report { get; }
}
