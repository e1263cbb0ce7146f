namespace Elongate.Data;

/// <summary>Where a <see cref="SequencePacker"/> stands, saved in checkpoints so a resumed run sees the same data.</summary>
public sealed record SequencePackerState(int Epoch, int OrderIndex, int Offset);
