using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation;

/// <summary>
/// A scripted <see cref="ITaskModel"/> for the multiple-choice tests: ScoreAsync answers with the log-likelihood a
/// delegate gives for (context, continuation); Tokenize is one token per UTF-16 character, so token budgets are easy
/// to compute by hand. Generation is not part of log-likelihood scoring, so it throws: a test fails if the evaluator
/// ever tries it.
/// </summary>
internal sealed class MultipleChoiceFakeModel(Func<string, string, double> logLikelihood, int contextLength = 100_000, string name = "fake") : ITaskModel
{
    /// <summary>Every (context, continuations) pair ScoreAsync was asked for, in order.</summary>
    public List<(string Context, IReadOnlyList<string> Continuations)> Calls { get; } = [];

    public string Name => name;
    public int ContextLength => contextLength;

    public int[] Tokenize(string text) => text.Select(c => (int)c).ToArray();

    /// <summary>The inverse of <see cref="Tokenize"/> (documents cut to a length cap are detokenized).</summary>
    public string Detokenize(IReadOnlyList<int> tokens) => new(tokens.Select(t => (char)t).ToArray());

    public Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("multiple choice must not generate");

    public Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default)
    {
        Calls.Add((context, continuations.ToArray()));
        IReadOnlyList<ContinuationScore> scores = continuations
            .Select(c => new ContinuationScore(logLikelihood(context, c), c.Length, false)).ToArray();
        return Task.FromResult(scores);
    }

    /// <summary>A model that gives <paramref name="preferred"/> (the whole continuation, delimiter included) log-likelihood −1 and everything else −5.</summary>
    public static MultipleChoiceFakeModel Preferring(string preferred, int contextLength = 100_000) =>
        new((_, c) => c == preferred ? -1 : -5, contextLength, "prefers" + preferred.Trim());

    public void Dispose() { }
}
