using Elongate.Common;
using Elongate.Evaluation.Tasks;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>
/// A test-only <see cref="ITaskModel"/>: words are tokens (whitespace split, each distinct word one id), BOS counts as
/// one prompt token, and each answer comes from a script. Like a real model it refuses a prompt + budget beyond its
/// context with <see cref="ContextOverflowException"/>. Requests are recorded for the tests to inspect.
/// </summary>
internal sealed class ScriptedTaskModel(Func<TaskGenerationRequest, int, string> answer, int contextLength = 1_000_000, string name = "scripted") : ITaskModel
{
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private readonly List<string> _words = [];

    /// <summary>Every request, in order.</summary>
    public List<TaskGenerationRequest> Requests { get; } = [];

    public string Name => name;

    public int ContextLength => contextLength;

    public int[] Tokenize(string text) =>
        text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Select(w =>
        {
            if (!_ids.TryGetValue(w, out var id))
            {
                _ids[w] = id = _words.Count;
                _words.Add(w);
            }
            return id;
        }).ToArray();

    public string Detokenize(IReadOnlyList<int> tokens) => string.Join(' ', tokens.Select(t => _words[t]));

    public Task<TaskGeneration> GenerateAsync(TaskGenerationRequest request, CancellationToken cancellationToken = default)
    {
        int prompt = Tokenize(request.Prompt).Length + 1;
        if (prompt + request.MaxNewTokens > ContextLength) throw new ContextOverflowException(prompt, request.MaxNewTokens, ContextLength);
        Requests.Add(request);
        var text = answer(request, Requests.Count - 1);
        return Task.FromResult(new TaskGeneration(text, prompt, Tokenize(text).Length));
    }

    public Task<IReadOnlyList<ContinuationScore>> ScoreAsync(string context, IReadOnlyList<string> continuations, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("the generation harness never scores continuations");

    public void Dispose() { }

    /// <summary>Always <paramref name="text"/>.</summary>
    public static ScriptedTaskModel Constant(string text, int contextLength = 1_000_000) => new((_, _) => text, contextLength, "constant");

    /// <summary>
    /// The oracle: answers the i-th request with the first reference of the i-th question of the run's plan (the harness
    /// asks in plan order), after checking that the prompt contains that question, so a misaligned script fails loudly.
    /// </summary>
    public static ScriptedTaskModel Oracle(IReadOnlyList<TaskFile> files, TaskRunOptions options)
    {
        var plan = TaskEvaluation.Plan(files, options).ToList();
        return new ScriptedTaskModel((request, i) =>
        {
            var q = plan[i].Query;
            Assert.Contains(q.Question.Trim(), request.Prompt);
            return q.References[0];
        }, name: "oracle");
    }
}
