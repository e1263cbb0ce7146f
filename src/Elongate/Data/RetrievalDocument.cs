namespace Elongate.Data;

/// <summary>One generated retrieval document.</summary>
/// <param name="Index">Its index in the generator's sequence.</param>
/// <param name="Kind">What it asks the model to retrieve.</param>
/// <param name="Text">The plain-text document (training sees BOS + text + EOS).</param>
/// <param name="Answer">The text to be retrieved, as it appears at the end of the document (the key, the value, the passage or the first sentence).</param>
/// <param name="Length">Its length in the generator's units (tokens with a tokenizer, else words), summed over its pieces.</param>
/// <param name="Distance">Units from the start of the fact (needle, queried pair, first passage, first sentence) to the start of the answer.</param>
public sealed record RetrievalDocument(int Index, RetrievalKind Kind, string Text, string Answer, int Length, int Distance);
