namespace Elongate.Data;

/// <summary>The training rows built from a set of labelled examples, and what was done to build them.</summary>
/// <param name="Sequences">The rows, in training order.</param>
/// <param name="Report">Counts, token totals and lengths.</param>
public sealed record FineTuneSet(List<FineTuneSequence> Sequences, FineTuneReport Report);
