namespace Elongate.Data;

/// <summary>Which prompt a self-instruct pair comes from: a short (extractive) or a long (explanatory) answer.</summary>
public enum SelfInstructKind
{
    /// <summary>A few words or one sentence.</summary>
    Short,

    /// <summary>Several sentences.</summary>
    Long,
}
