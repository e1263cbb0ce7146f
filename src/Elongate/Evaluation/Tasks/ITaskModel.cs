namespace Elongate.Evaluation.Tasks;

/// <summary>
/// The model a task evaluation talks to: a local file or a model behind an OpenAI-compatible server. Both answer the
/// same two questions — "continue this prompt greedily" and "how probable is each continuation of this context" — so
/// one harness scores either, and greedy generation gives the same text both ways for the same model.
/// </summary>
public interface ITaskModel : IDisposable
{
    /// <summary>A name for reports (file name or remote model name).</summary>
    string Name { get; }

    /// <summary>Positions the model can attend to (prompt + generated tokens); the harness truncates inputs to fit.</summary>
    int ContextLength { get; }

    /// <summary>The model's tokens of <paramref name="text"/>, without BOS/EOS (the prompt adds BOS as the model's vocabulary says).</summary>
    int[] Tokenize(string text);

    /// <summary>Text of <paramref name="tokens"/> (no special-token text).</summary>
    string Detokenize(IReadOnlyList<int> tokens);

    /// <summary>Greedy continuation of <paramref name="request"/>'s prompt, cut before the first stop string.</summary>
    Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// Log-likelihood of each continuation after <paramref name="context"/>, as lm-evaluation-harness computes it:
    /// trailing whitespace of the context moves to the continuation, the whole text is tokenized once, and the
    /// continuation's tokens are those past the context's own token count.
    /// </summary>
    Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default);
}

/// <summary>One greedy generation request.</summary>
/// <param name="Prompt">The whole prompt text (raw, or the user message when <paramref name="Chat"/>).</param>
/// <param name="MaxNewTokens">Generation budget.</param>
/// <param name="Stop">Stop strings; the reply ends before the first one.</param>
/// <param name="Chat">Send the prompt as one user message through the model's chat template instead of as raw text.</param>
public sealed record TaskGenerationRequest(string Prompt, int MaxNewTokens, IReadOnlyList<string> Stop, bool Chat = false);

/// <summary>A generated answer.</summary>
/// <param name="Text">The reply, before the first stop string.</param>
/// <param name="PromptTokens">Tokens of the prompt as the model saw it (with BOS and chat markup).</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
public sealed record TaskGeneration(string Text, int PromptTokens, int GeneratedTokens);

/// <summary>The score of one continuation.</summary>
/// <param name="LogLikelihood">Sum of the natural-log probabilities of the continuation's tokens.</param>
/// <param name="Tokens">Number of continuation tokens.</param>
/// <param name="IsGreedy">True when every continuation token was the model's argmax.</param>
public sealed record ContinuationScore(double LogLikelihood, int Tokens, bool IsGreedy);
