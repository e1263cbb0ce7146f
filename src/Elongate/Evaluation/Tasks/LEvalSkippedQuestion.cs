namespace Elongate.Evaluation.Tasks;

/// <summary>An L-Eval question that was not turned into a multiple-choice item, and why (counted, not fatal).</summary>
/// <param name="Id">"line.question" (both 1-based).</param>
/// <param name="Reason">What could not be parsed, or the policy that left it out.</param>
public sealed record LEvalSkippedQuestion(string Id, string Reason);
