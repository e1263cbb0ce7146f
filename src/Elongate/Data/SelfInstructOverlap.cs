namespace Elongate.Data;

/// <summary>A document that shares word sequences with an evaluation input (<see cref="SelfInstructContamination"/>).</summary>
/// <param name="Document">The document's name.</param>
/// <param name="Reference">The reference file it shares most with, relative to the checked folder.</param>
/// <param name="SharedNGrams">Distinct n-grams of the document found in that file.</param>
public sealed record SelfInstructOverlap(string Document, string Reference, int SharedNGrams);
