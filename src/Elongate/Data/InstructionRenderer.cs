using System.Text;
using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>
/// Turns an <see cref="InstructionExample"/> into tokens labelled with the role of the text each comes from: the
/// conversation is rendered once with the model's chat template, tokenized once, and every token is assigned to the
/// message (or the template text) it belongs to.
/// </summary>
/// <remarks>
/// <para><b>Rendering.</b> The whole conversation through <see cref="ChatTemplate.Apply"/> without an assistant prompt
/// (the last turn is the answer), tokenized with special-token parsing, with BOS when the vocabulary adds one — unless
/// the rendered text already begins with the BOS piece's text, which special parsing turns into BOS. Tokenizing the
/// conversation in one piece, rather than message by message, gives exactly the tokens the model sees at inference.</para>
/// <para><b>Where each message is.</b> The template is also rendered with a placeholder in place of each message's
/// content, which shows its own text between the messages; the real rendering is then matched piece by piece, each
/// content appearing as given or trimmed (some templates trim, as llama.cpp does). This is never fooled by a content
/// that also occurs in the template's text (an answer "user" in ChatML). A template that drops a message (yandex drops
/// system turns) gives it no tokens. Should the placeholder rendering not line up (a template that rewrites content),
/// each content, as given or trimmed, is searched for in order instead.</para>
/// <para><b>Which tokens.</b> A token belongs to the span its text ends in, so a token that straddles a boundary goes
/// to the later span — e.g. SentencePiece's "▁Hello", whose space is the template's and whose word is the user's, is a
/// user token, and a BPE merge across the end of an answer is template. Where each token ends is found by lining the
/// tokens' own texts up with the rendered text (allowing only for whitespace a special token swallows and
/// SentencePiece's dummy-prefix space), which is exact and linear. Where they do not line up (an unknown-piece token),
/// the number of tokens wholly before each boundary is instead the length of the common prefix of the full
/// tokenization and the tokenization of the text up to that boundary — the same rule, at the cost of one tokenization
/// per boundary; should a merge there reach back before the straddling token, the tokens it changes also go to the
/// later span. Either way no token is given to a span it does not end in.</para>
/// <para><b>End of turn.</b> The end-of-turn marker written right after an assistant message
/// (<see cref="ChatTemplate.EndOfTurnMarkers"/>: "&lt;|end|&gt;", "&lt;|im_end|&gt;", "&lt;|eot_id|&gt;", "&lt;/s&gt;"…;
/// only whitespace may come between) is labelled <see cref="TokenRole.Assistant"/>, so the model learns to stop —
/// as Hugging Face's assistant masks and most trainers do; the chat loop stops on these same markers. Nothing is
/// appended: a template that writes no marker after the last answer gives nothing to stop on but what the model
/// already knows.</para>
/// <para><b>Roles.</b> "system" → <see cref="TokenRole.System"/>, "assistant" → <see cref="TokenRole.Assistant"/>,
/// any other role the template renders ("user", "tool", "ipython"…) → <see cref="TokenRole.User"/>: it is input the
/// model reads, not text it should produce.</para>
/// </remarks>
public static class InstructionRenderer
{
    /// <summary>Renders, tokenizes and labels <paramref name="example"/>.</summary>
    /// <exception cref="InstructionDataException">The template cannot render one of the example's roles (the message
    /// names the example and the role), or a message's content cannot be found in the rendered text.</exception>
    public static LabeledExample Render(InstructionExample example, ITokenizer tokenizer, ChatTemplate template) =>
        Render(example, tokenizer, template, byPieces: true);

    /// <summary>
    /// <see cref="Render(InstructionExample, ITokenizer, ChatTemplate)"/>, choosing whether the token texts may be
    /// lined up with the rendered text (<paramref name="byPieces"/>) or only prefixes are tokenized (tests compare both).
    /// </summary>
    internal static LabeledExample Render(InstructionExample example, ITokenizer tokenizer, ChatTemplate template, bool byPieces)
    {
        ArgumentNullException.ThrowIfNull(example);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(template);
        var text = RenderText(example, template);
        var spans = Locate(example, template, text);
        ExtendThroughEndOfTurn(spans, text, template);
        bool addBos = AddsBos(tokenizer.Vocabulary, text);
        var tokens = tokenizer.Encode(text, addBos, addEos: false, parseSpecial: true);
        var roles = new TokenRole[tokens.Length]; // default Template
        if (byPieces && TokenEnds(tokenizer, text, tokens, addBos) is { } ends)
        {
            // Each token goes to the span its last character is in (spans are sorted and apart; ends only grow).
            for (int i = 0, k = 0; i < tokens.Length; i++)
            {
                while (k < spans.Count && spans[k].End < ends[i]) k++;
                if (k < spans.Count && ends[i] > spans[k].Start) roles[i] = spans[k].Role;
            }
            return new LabeledExample(example.Id, tokens, roles);
        }

        // Tokens wholly before each boundary, in order; kept monotone so spans never overlap.
        var before = new Dictionary<int, int> { [0] = CommonPrefix(tokenizer.Encode("", addBos, false, true), tokens), [text.Length] = tokens.Length };
        int running = before[0];
        foreach (var pos in spans.SelectMany(s => new[] { s.Start, s.End }).Where(p => p > 0 && p < text.Length).Distinct().Order())
        {
            running = Math.Max(running, CommonPrefix(tokenizer.Encode(text[..pos], addBos, false, true), tokens));
            before[pos] = Math.Min(running, tokens.Length);
        }
        foreach (var s in spans)
            for (int i = before[s.Start]; i < before[s.End]; i++) roles[i] = s.Role;
        return new LabeledExample(example.Id, tokens, roles);
    }

    /// <summary>
    /// Where each token ends in <paramref name="text"/> (a char offset; 0 for an added BOS), found by matching each
    /// token's own text against the rendered text in order; null when they do not line up, e.g. for an unknown-piece
    /// token. Two tokenizer habits are allowed for: whitespace the text has and the tokens do not (a special token that
    /// swallows the newline after it) and a leading space a token has and the text does not (SentencePiece's dummy
    /// prefix). Every other byte must match, so the end offsets are exact.
    /// </summary>
    private static int[]? TokenEnds(ITokenizer tokenizer, string text, int[] tokens, bool addBos)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var ends = new int[tokens.Length];
        int p = 0;
        for (int i = addBos ? 1 : 0; i < tokens.Length; i++)
        {
            var piece = tokenizer.TokenBytes(tokens[i], special: true);
            if (!MatchPiece(bytes, ref p, piece, tokenizer.StripsLeadingSpace)) return null;
            ends[i] = p;
        }
        while (p < bytes.Length && IsSpace(bytes[p])) p++;
        if (p != bytes.Length) return null;
        // Byte offsets to char offsets: a token ending inside a character (byte-level pieces) ends in that character.
        var charAt = new int[bytes.Length + 1];
        for (int c = 0, b = 0; c < text.Length;)
        {
            int width = char.IsSurrogatePair(text, c) ? 2 : 1;
            int n = Encoding.UTF8.GetByteCount(text.AsSpan(c, width)); // a lone surrogate is U+FFFD's 3 bytes, as in GetBytes
            c += width;
            for (int k = 1; k <= n; k++) charAt[b + k] = c;
            b += n;
        }
        for (int i = addBos ? 1 : 0; i < tokens.Length; i++) ends[i] = charAt[ends[i]];
        return ends;
    }

    /// <summary>Consumes <paramref name="piece"/> from <paramref name="text"/> at <paramref name="p"/> (see <see cref="TokenEnds"/>).</summary>
    private static bool MatchPiece(byte[] text, ref int p, byte[] piece, bool dummyPrefix)
    {
        if (piece.Length == 0) return false;
        int q = p;
        while (true)
        {
            var rest = text.AsSpan(q);
            if (rest.StartsWith(piece)) { p = q + piece.Length; return true; }
            if (dummyPrefix && piece.Length > 1 && piece[0] == (byte)' ' && rest.StartsWith(piece.AsSpan(1))) { p = q + piece.Length - 1; return true; }
            if (q < text.Length && IsSpace(text[q]) && q == p)
            {
                while (q < text.Length && IsSpace(text[q])) q++;
                continue;
            }
            return false;
        }
    }

    private static bool IsSpace(byte b) => b is (byte)' ' or (byte)'\t' or (byte)'\n' or (byte)'\v' or (byte)'\f' or (byte)'\r';

    /// <summary>
    /// The token ids of <paramref name="example"/> as <see cref="Render(InstructionExample, ITokenizer, ChatTemplate)"/> produces them, without the labels (cheaper:
    /// one tokenization), for length statistics.
    /// </summary>
    /// <exception cref="InstructionDataException">The template cannot render one of the example's roles.</exception>
    public static int[] Tokenize(InstructionExample example, ITokenizer tokenizer, ChatTemplate template)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var text = RenderText(example, template);
        return tokenizer.Encode(text, AddsBos(tokenizer.Vocabulary, text), addEos: false, parseSpecial: true);
    }

    /// <summary>The conversation as the template writes it, without an assistant prompt.</summary>
    /// <exception cref="InstructionDataException">The template rejects a role.</exception>
    public static string RenderText(InstructionExample example, ChatTemplate template)
    {
        ArgumentNullException.ThrowIfNull(example);
        ArgumentNullException.ThrowIfNull(template);
        try
        {
            return template.Apply(example.Messages, addAssistantPrompt: false);
        }
        catch (ArgumentException e)
        {
            throw new InstructionDataException(example.Id, $"cannot be rendered: {e.Message}", e);
        }
    }

    /// <summary>The role a message's tokens get (see the remarks).</summary>
    public static TokenRole RoleOf(string role) => role switch
    {
        "system" => TokenRole.System,
        "assistant" => TokenRole.Assistant,
        _ => TokenRole.User,
    };

    private static bool AddsBos(TokenVocabulary v, string text) =>
        v.AddBos && (uint)v.BosId < (uint)v.Count && !(v.Pieces[v.BosId].Length > 0 && text.StartsWith(v.Pieces[v.BosId], StringComparison.Ordinal));

    private static int CommonPrefix(int[] a, int[] b)
    {
        int n = Math.Min(a.Length, b.Length), i = 0;
        while (i < n && a[i] == b[i]) i++;
        return i;
    }

    /// <summary>A stretch [Start, End) of the rendered text that holds a message's content.</summary>
    private sealed class ContentSpan(int start, int end, TokenRole role)
    {
        public int Start = start, End = end;
        public readonly TokenRole Role = role;
    }

    private const char Open = '\uE000', Close = '\uE001';

    /// <summary>Where each rendered message's content lies in <paramref name="text"/>, in text order.</summary>
    private static List<ContentSpan> Locate(InstructionExample example, ChatTemplate template, string text)
    {
        var m = example.Messages;
        if (!m.Any(t => t.Content.Contains(Open) || t.Content.Contains(Close)))
        {
            // The template's own text around each message: render placeholders (private-use characters, no whitespace,
            // so no template trims them) and cut at them.
            var placeholders = m.Select((t, i) => t with { Content = $"{Open}{i}{Close}" }).ToArray();
            var shape = template.Apply(placeholders, addAssistantPrompt: false);
            var pieces = new List<(string? Literal, int Message)>();
            int at = 0;
            while (at < shape.Length)
            {
                int open = shape.IndexOf(Open, at);
                if (open < 0) { pieces.Add((shape[at..], -1)); break; }
                if (open > at) pieces.Add((shape[at..open], -1));
                int close = shape.IndexOf(Close, open);
                pieces.Add((null, int.Parse(shape.AsSpan(open + 1, close - open - 1), System.Globalization.CultureInfo.InvariantCulture)));
                at = close + 1;
            }
            var found = new (int Start, int End)[pieces.Count];
            if (Match(pieces, 0, 0, text, m, found))
                return [.. pieces.Select((p, i) => (p, i)).Where(x => x.p.Literal is null)
                    .Select(x => new ContentSpan(found[x.i].Start, found[x.i].End, RoleOf(m[x.p.Message].Role)))];
        }
        // Fallback: each content, as given or trimmed, in order.
        var spans = new List<ContentSpan>();
        int cursor = 0;
        for (int i = 0; i < m.Count; i++)
        {
            var c = m[i].Content;
            int pos = text.IndexOf(c, cursor, StringComparison.Ordinal);
            if (pos < 0) pos = text.IndexOf(c = ChatTemplate.Trim(c), cursor, StringComparison.Ordinal);
            if (pos < 0)
                throw new InstructionDataException(example.Id,
                    $"the content of message {i} ({m[i].Role}) is not in the text the {template.Name} chat template renders, so its tokens cannot be labelled");
            spans.Add(new ContentSpan(pos, pos + c.Length, RoleOf(m[i].Role)));
            cursor = pos + c.Length;
        }
        return spans;
    }

    /// <summary>
    /// Whether <paramref name="text"/> from <paramref name="pos"/> is pieces[<paramref name="k"/>..] with each message
    /// as given or trimmed; fills <paramref name="found"/> with the chosen stretches.
    /// </summary>
    private static bool Match(List<(string? Literal, int Message)> pieces, int k, int pos, string text, IReadOnlyList<ChatTurn> m, (int, int)[] found)
    {
        // Literal pieces are walked in a loop; only the choice of a content (as given or trimmed) recurses.
        for (; k < pieces.Count; k++)
        {
            var (literal, message) = pieces[k];
            if (literal is null)
            {
                var content = m[message].Content;
                var trimmed = ChatTemplate.Trim(content);
                foreach (var c in trimmed.Length == content.Length ? new[] { content } : new[] { content, trimmed })
                    if (text.AsSpan(pos).StartsWith(c, StringComparison.Ordinal)
                        && Match(pieces, k + 1, pos + c.Length, text, m, found))
                    {
                        found[k] = (pos, pos + c.Length);
                        return true;
                    }
                return false;
            }
            if (!text.AsSpan(pos).StartsWith(literal, StringComparison.Ordinal)) return false;
            pos += literal.Length;
        }
        return pos == text.Length;
    }

    /// <summary>Lets each assistant span run on through the end-of-turn marker that follows it (see the remarks).</summary>
    private static void ExtendThroughEndOfTurn(List<ContentSpan> spans, string text, ChatTemplate template)
    {
        spans.Sort((a, b) => a.Start.CompareTo(b.Start));
        for (int i = 0; i < spans.Count; i++)
        {
            var s = spans[i];
            if (s.Role != TokenRole.Assistant) continue;
            int limit = i + 1 < spans.Count ? spans[i + 1].Start : text.Length;
            int at = s.End;
            while (at < limit && text[at] is ' ' or '\t' or '\n' or '\v' or '\f' or '\r') at++;
            var marker = template.EndOfTurnMarkers
                .Where(mk => mk.Length > 0 && at + mk.Length <= limit && string.CompareOrdinal(text, at, mk, 0, mk.Length) == 0)
                .MaxBy(mk => mk.Length);
            if (marker is not null) s.End = at + marker.Length;
        }
    }
}
