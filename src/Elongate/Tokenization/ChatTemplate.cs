using System.Collections.Frozen;
using System.Text;
using Elongate.Common;

namespace Elongate.Tokenization;

/// <summary>
/// A chat prompt format, rendered the way llama.cpp's <c>llama_chat_apply_template</c> renders its built-in templates
/// (src/llama-chat.cpp), and recognised from a model's Jinja template text the way <c>llm_chat_detect_template</c>
/// recognises it: by substring heuristics, not by running the Jinja. One small render function per template, in a
/// name → template table (<see cref="Names"/>, llama.cpp's names and order).
/// </summary>
/// <remarks>
/// <para><b>What the output is.</b> The prompt text with the template's special tokens written out as text
/// (e.g. "&lt;|im_start|&gt;"), so it must be tokenized with special-token parsing on. As in llama.cpp, it does not begin
/// with BOS: the tokenizer adds BOS when the model asks for one. A few templates (monarch, llama2-sys-bos,
/// gigachat, smolvlm) write BOS-like text inside the conversation, as llama.cpp does.</para>
/// <para><b>llama.cpp's quirks, kept on purpose</b> so that a prompt is token-for-token the one llama.cpp builds:
/// only some templates trim content (llama3, llama4, gemma, command-r, minicpm, the exaone ones, rwkv-world,
/// llama2-sys-strip; mistral-v3 and seed_oss only assistant turns, grok-2 only system and user turns), and they trim
/// ASCII whitespace only (C's isspace). Templates without a system role fold the system text into the next user turn
/// (gemma: trimmed, then a blank line; orion: as is, then a blank line), write it as a plain line inside the current
/// [INST] (llama2), or drop it (yandex always; gigachat, hunyuan-dense and hunyuan-vl unless it comes first).
/// Several templates ignore <c>addAssistantPrompt</c> because their user turn already ends where the model answers
/// (llama2, mistral, orion, minicpm, rwkv-world, the hunyuan ones, deepseek-ocr), and rwkv-world writes "Assistant:"
/// after a final user turn even when it is false.</para>
/// <para><b>Where Elongate differs.</b> (1) A role the template does not know is an error (llama.cpp renders it
/// verbatim, treats it as the assistant, or drops it, depending on the template). (2) "dots1" is also a name here;
/// llama.cpp reaches that template only by detection. Otherwise the output is llama.cpp's: the tests compare every
/// template, over many conversations, with the llama.cpp build LLamaSharp ships, and with the expected strings of
/// llama.cpp's tests/test-chat-template.cpp.</para>
/// </remarks>
public sealed partial class ChatTemplate
{
    private delegate void Renderer(StringBuilder sb, IReadOnlyList<ChatTurn> messages, bool addAssistantPrompt);

    private readonly Renderer _render;
    private readonly FrozenSet<string> _roles;

    private ChatTemplate(string name, Renderer render, string[] roles, string[] endOfTurnMarkers)
    {
        Name = name;
        _render = render;
        _roles = roles.ToFrozenSet(StringComparer.Ordinal);
        Roles = Array.AsReadOnly(roles);
        EndOfTurnMarkers = Array.AsReadOnly(endOfTurnMarkers);
    }

    /// <summary>The template's name, as llama.cpp's <c>--chat-template</c> spells it.</summary>
    public string Name { get; }

    /// <summary>Roles <see cref="Apply"/> accepts for this template (always system, user and assistant, sometimes more).</summary>
    public IReadOnlyList<string> Roles { get; }

    /// <summary>
    /// Text that ends an assistant turn in this format (e.g. "&lt;|eot_id|&gt;", "&lt;|im_end|&gt;", "&lt;/s&gt;"), or,
    /// where the format has no end marker, the text that opens the next user turn. A chat loop uses these as extra stop
    /// strings: a model whose GGUF lacks the matching end-of-generation token id would otherwise run on into a made-up
    /// next turn. Empty where the format gives nothing to stop on but the model's own EOS token.
    /// </summary>
    public IReadOnlyList<string> EndOfTurnMarkers { get; }

    /// <summary>The template table, in llama.cpp's order (LLM_CHAT_TEMPLATES), plus dots1 (see the remarks).</summary>
    private static readonly ChatTemplate[] All = BuildTable();

    private static readonly FrozenDictionary<string, ChatTemplate> ByName =
        All.ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    /// <summary>Every template name <see cref="FromName"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = Array.AsReadOnly(All.Select(t => t.Name).ToArray());

    /// <summary>The template called <paramref name="name"/> (exact, case-sensitive, as llama.cpp).</summary>
    /// <exception cref="ArgumentException">The name is not one of <see cref="Names"/>.</exception>
    public static ChatTemplate FromName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (ByName.TryGetValue(name, out var t)) return t;
        throw new ArgumentException($"unknown chat template '{name}'; known templates: {string.Join(", ", Names)}", nameof(name));
    }

    /// <summary>
    /// The template that llama.cpp would pick for a model whose Jinja chat template (GGUF
    /// <c>tokenizer.chat_template</c>, or <c>chat_template</c> in tokenizer_config.json) is <paramref name="jinja"/>.
    /// As llama.cpp, a text that is exactly a template name selects that template.
    /// </summary>
    /// <param name="jinja">The Jinja template text.</param>
    /// <param name="source">Where the text came from (a file path), for the error message.</param>
    /// <exception cref="ModelFormatException">No heuristic matches; the message quotes the template's start.</exception>
    public static ChatTemplate Detect(string jinja, string source)
    {
        ArgumentNullException.ThrowIfNull(jinja);
        if (DetectName(jinja) is { } name) return ByName[name];
        throw new ModelFormatException(source,
            $"chat template not recognised (it starts \"{Quote(jinja, 80)}\"); Elongate recognises templates by llama.cpp's " +
            $"heuristics and does not run Jinja, so pass --chat-template NAME, NAME one of: {string.Join(", ", Names)}",
            key: "tokenizer.chat_template");
    }

    /// <summary>
    /// The template to use: <paramref name="name"/> when given (a user's <c>--chat-template NAME</c> wins over the
    /// model), else the one detected from <paramref name="jinja"/> (the model's own template).
    /// </summary>
    /// <exception cref="ArgumentException">Neither is given, or the name is unknown.</exception>
    /// <exception cref="ModelFormatException">Only a template is given and it is not recognised.</exception>
    public static ChatTemplate Resolve(string? name, string? jinja, string source)
    {
        if (!string.IsNullOrEmpty(name)) return FromName(name);
        if (!string.IsNullOrEmpty(jinja)) return Detect(jinja, source);
        throw new ArgumentException(
            $"{source}: the model has no chat template (no tokenizer.chat_template) and none was named; pass --chat-template NAME, " +
            $"NAME one of: {string.Join(", ", Names)}");
    }

    /// <summary>
    /// Renders <paramref name="messages"/> into the prompt text, as <c>llama_chat_apply_template</c> does.
    /// </summary>
    /// <param name="messages">The conversation, oldest first; may be empty.</param>
    /// <param name="addAssistantPrompt">End with the text that opens an assistant turn, so the model answers next
    /// (Hugging Face's add_generation_prompt). Templates whose user turn already ends that way ignore it.</param>
    /// <exception cref="ArgumentException">A message is null, has null content, or has a role not in <see cref="Roles"/>.</exception>
    public string Apply(IReadOnlyList<ChatTurn> messages, bool addAssistantPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        for (int i = 0; i < messages.Count; i++)
        {
            var m = messages[i] ?? throw new ArgumentException($"message {i} is null", nameof(messages));
            if (m.Role is null || !_roles.Contains(m.Role))
                throw new ArgumentException(
                    $"message {i} has role '{m.Role}', which the {Name} chat template does not have; its roles are {string.Join(", ", Roles)}",
                    nameof(messages));
            if (m.Content is null) throw new ArgumentException($"message {i} ({m.Role}) has no content", nameof(messages));
        }
        var sb = new StringBuilder();
        _render(sb, messages, addAssistantPrompt);
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => Name;

    /// <summary>The first <paramref name="max"/> characters of <paramref name="text"/>, control characters escaped.</summary>
    private static string Quote(string text, int max)
    {
        var sb = new StringBuilder();
        foreach (var c in text.Length > max ? text[..max] : text)
            sb.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", '"' => "\\\"", _ => c.ToString() });
        if (text.Length > max) sb.Append('…');
        return sb.ToString();
    }

    /// <summary>llama.cpp's trim: C isspace (space, \t, \n, \v, \f, \r) off both ends; other Unicode spaces stay.</summary>
    internal static string Trim(string s) => s.Trim(CSpaces);

    private static readonly char[] CSpaces = [' ', '\t', '\n', '\v', '\f', '\r'];
}
