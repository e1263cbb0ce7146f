namespace Elongate.Data;

/// <summary>
/// An instruction example rendered with a chat template and tokenized: every token with the role of the text it comes
/// from, which decides whether it carries loss (<see cref="FineTuneSequenceBuilder"/>).
/// </summary>
/// <param name="Id">The example's "file:line".</param>
/// <param name="Tokens">The token ids of the whole rendered conversation (BOS first when the vocabulary adds one).</param>
/// <param name="Roles">Per token, its role; as long as <paramref name="Tokens"/>.</param>
public sealed record LabeledExample(string Id, int[] Tokens, TokenRole[] Roles)
{
    /// <summary>Number of tokens.</summary>
    public int Length => Tokens.Length;
}
