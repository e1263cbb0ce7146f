namespace Elongate.Data;

/// <summary>What a token of a rendered chat example is, which decides whether it carries loss.</summary>
public enum TokenRole
{
    /// <summary>Text the chat template adds around messages ("&lt;|user|&gt;\n", "[INST]", BOS): never trained on.</summary>
    Template,
    /// <summary>The content of a system message.</summary>
    System,
    /// <summary>The content of a user message: the instruction and any long input (a document to answer about).</summary>
    User,
    /// <summary>The content of an assistant message: the answer.</summary>
    Assistant,
}
