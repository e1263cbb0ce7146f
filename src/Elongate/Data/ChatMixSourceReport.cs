namespace Elongate.Data;

/// <summary>One source's part in a chat mix.</summary>
/// <param name="File">The source file's full path.</param>
/// <param name="Weight">The weight given, or null.</param>
/// <param name="TargetShare">The share of the output its weight asked for.</param>
/// <param name="Available">Examples in the file.</param>
/// <param name="Selected">Examples taken into the output, repeats included.</param>
/// <param name="Distinct">Distinct examples taken.</param>
/// <param name="Share">Its actual share of the output.</param>
/// <param name="Lengths">Token lengths of the selected examples (repeats included), when a tokenizer was given.</param>
public sealed record ChatMixSourceReport(string File, double? Weight, double TargetShare, int Available, int Selected, int Distinct, double Share,
    LengthReport? Lengths);
