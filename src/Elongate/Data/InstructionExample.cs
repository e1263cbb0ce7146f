using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>
/// One instruction-tuning example as read from a JSON Lines file: a conversation that ends with an assistant turn.
/// </summary>
/// <param name="Id">Where it came from, "file:line" (the file's name and the 1-based line), so every later error and
/// report can point back at the line.</param>
/// <param name="Messages">The turns, oldest first; roles are lower-case ("system", "user", "assistant", or another role
/// such as "tool" that the chat template decides about), the last one is "assistant".</param>
public sealed record InstructionExample(string Id, IReadOnlyList<ChatTurn> Messages);
