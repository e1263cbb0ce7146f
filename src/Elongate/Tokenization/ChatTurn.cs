namespace Elongate.Tokenization;

/// <summary>
/// One message of a conversation, as llama.cpp's <c>llama_chat_message</c>: a role ("system", "user", "assistant",
/// or another role a template knows, e.g. "tool") and its text. <see cref="ChatTemplate.Apply"/> checks the role
/// against the template, because most templates silently drop a role they do not know.
/// </summary>
/// <param name="Role">Lower-case role name; compared ordinally.</param>
/// <param name="Content">The message text, rendered as given (some templates trim it, as llama.cpp does).</param>
public sealed record ChatTurn(string Role, string Content);
