namespace Elongate.Evaluation.Tasks;

/// <summary>
/// Builds the prompt of a question so that prompt and answer fit in a length cap L, measured in the model's tokens.
/// <para>
/// Budget: the prompt may take B = L − the template's max_new_tokens − a reserve (1 token for BOS, plus
/// <see cref="ChatReserve"/> with the chat template, whose markup the harness cannot measure). Everything but the
/// documents — template text, the question, the examples' questions and answers — is kept whole; its tokens F are
/// measured with every document empty. The documents share D = max(0, B − F): each example's document may take at
/// most ⌊D / (k + 1)⌋ tokens (k examples), and the query's document takes all that the examples leave, so short
/// examples give their unused share to the query. A document longer than its share is cut in tokens
/// (<see cref="TaskTruncation"/>) and turned back into text with <see cref="ITaskModel.Detokenize"/>. Because
/// text around a cut can tokenize differently, the whole prompt is then measured again and, while it exceeds B,
/// the query's document (then the examples') gives up the excess.
/// </para>
/// </summary>
public sealed class TaskPromptBuilder
{
    /// <summary>Tokens kept free for the chat template's markup (role headers and turn tokens) when prompts go through it.</summary>
    public const int ChatReserve = 64;

    private readonly ITaskModel _model;
    private readonly TaskPrompts _prompts;
    private readonly TaskTruncation _truncation;
    private readonly bool _chat;
    private readonly Dictionary<(string File, int Document), int[]> _documentTokens = [];

    /// <summary>A builder for one model, prompt set, truncation side and chat choice.</summary>
    public TaskPromptBuilder(ITaskModel model, TaskPrompts prompts, TaskTruncation truncation, bool chat)
    {
        _model = model;
        _prompts = prompts;
        _truncation = truncation;
        _chat = chat;
    }

    /// <summary>Tokens reserved besides the answer budget.</summary>
    public int Reserve => 1 + (_chat ? ChatReserve : 0);

    /// <summary>The prompt kind of a question: by metric, and for exam tasks by the form of its first reference.</summary>
    public static TaskPromptKind KindFor(TaskFile file, TaskQuery query) => file.Metric switch
    {
        TaskMetric.F1 => TaskPromptKind.Qa,
        TaskMetric.Rouge => TaskPromptKind.Summary,
        _ => ExamAnswer.FormatFor(file.Name, query.References[0]) switch
        {
            ExamFormat.Letter or ExamFormat.Letters => TaskPromptKind.ExamChoice,
            ExamFormat.Number => TaskPromptKind.ExamNumber,
            _ => TaskPromptKind.ExamShort,
        },
    };

    /// <summary>The template a question is asked with.</summary>
    public TaskPromptTemplate TemplateFor(TaskFile file, TaskQuery query) => _prompts.For(file.Name, KindFor(file, query));

    /// <summary>The prompt for <paramref name="query"/> of <paramref name="document"/> with <paramref name="examples"/>, fitted to <paramref name="length"/> tokens.</summary>
    public TaskPrompt Build(TaskFile file, TaskDocument document, TaskQuery query, IReadOnlyList<(TaskDocument Document, TaskQuery Query)> examples, int length)
    {
        var template = TemplateFor(file, query);
        int budget = length - template.MaxNewTokens - Reserve;
        var exampleTokens = examples.Select(e => TokensOf(file, e.Document)).ToArray();
        var queryTokens = TokensOf(file, document);

        string Render(int[] exampleKeep, int queryKeep) => template.Render(
            string.Concat(examples.Select((e, i) => template.RenderExample(Cut(e.Document.Text, exampleTokens[i], exampleKeep[i]), e.Query.Question, e.Query.References[0]))),
            Cut(document.Text, queryTokens, queryKeep), query.Question);

        int fixedTokens = _model.Tokenize(Render(new int[examples.Count], 0)).Length;
        var (text, tokens, queryKeep) = DocumentShares.Fit(Render, t => _model.Tokenize(t).Length,
            exampleTokens.Select(t => t.Length).ToArray(), queryTokens.Length, budget, fixedTokens);
        return new TaskPrompt(text, template, tokens, budget, queryTokens.Length, queryKeep, queryKeep < queryTokens.Length, tokens > budget,
            examples.Select(e => (e.Document.Index, e.Query.Index)).ToList());
    }

    /// <summary>The document cut to <paramref name="keep"/> tokens by the run's truncation side.</summary>
    private string Cut(string text, int[] tokens, int keep) => Cut(_model, _truncation, text, tokens, keep);

    /// <summary>
    /// <paramref name="text"/> (whose tokens are <paramref name="tokens"/>) cut to <paramref name="keep"/> tokens on
    /// <paramref name="truncation"/>'s side and detokenized; the text itself when it fits, "" for no tokens.
    /// </summary>
    internal static string Cut(ITaskModel model, TaskTruncation truncation, string text, int[] tokens, int keep)
    {
        // A document that fits goes in as written, not as a tokenize/detokenize round trip.
        if (keep >= tokens.Length) return text;
        if (keep <= 0) return "";
        if (truncation == TaskTruncation.Left) return model.Detokenize(tokens[^keep..]);
        int head = (keep + 1) / 2;
        // One Detokenize over the joined halves, so the tokenizer decides the spacing at the seam.
        return model.Detokenize([.. tokens[..head], .. tokens[^(keep - head)..]]);
    }

    private int[] TokensOf(TaskFile file, TaskDocument document)
    {
        if (!_documentTokens.TryGetValue((file.Path, document.Index), out var t))
            _documentTokens[(file.Path, document.Index)] = t = _model.Tokenize(document.Text);
        return t;
    }
}
