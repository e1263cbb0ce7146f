using System.Text.RegularExpressions;
using Elongate.Data;
using Elongate.Tokenization;

namespace Elongate.Experiments;

/// <summary>
/// The long-QA documents of the self-instruct miniature and of <see cref="InputLossExperiment"/>: a run of consecutive
/// sentences of a book with one fact planted at a random sentence boundary, "The password of the ADJ NOUN is VALUE."
/// (<see cref="PasswordTeacher.Fact"/>). Keys are adjective + noun (32 × 32 = 1,024, each document its own, so no
/// held-out key is ever seen in training); values are sixteen short words, so a guess is right one time in sixteen.
/// The evidence is one sentence somewhere in a long context and the question points at it only through its words:
/// the paper's long-QA setting in small.
/// </summary>
public static partial class PasswordFacts
{
    public static readonly string[] Adjectives =
    [
        "red", "blue", "green", "silver", "golden", "quiet", "brave", "old", "young", "tall", "small", "dark", "bright", "happy", "angry", "gentle",
        "wild", "proud", "lazy", "clever", "rusty", "frozen", "hidden", "lonely", "shiny", "sleepy", "noisy", "humble", "secret", "ancient", "crooked", "royal",
    ];

    public static readonly string[] Nouns =
    [
        "fox", "owl", "wolf", "bear", "horse", "sailor", "baker", "knight", "farmer", "tailor", "hunter", "monk", "doctor", "soldier", "captain", "miller",
        "gate", "tower", "bridge", "garden", "castle", "lantern", "mirror", "engine", "harbor", "chapel", "cellar", "market", "village", "forest", "island", "valley",
    ];

    /// <summary>The answers: sixteen short words, so a guess is right one time in sixteen.</summary>
    public static readonly string[] Values = ["cat", "dog", "sun", "moon", "tree", "ball", "fish", "bird", "cake", "star", "rain", "boat", "ring", "book", "milk", "box"];

    /// <summary>Every key (adjective + noun) in a seeded order: draw them in turn and no two documents share a question.</summary>
    public static string[] ShuffledKeys(ref SplitMix64 rng)
    {
        var keys = (from a in Adjectives from n in Nouns select $"{a} {n}").ToArray();
        for (int k = keys.Length - 1; k > 0; k--)
        {
            int j = rng.NextInt(k + 1);
            (keys[k], keys[j]) = (keys[j], keys[k]);
        }
        return keys;
    }

    /// <summary>The sentences of a book (whitespace collapsed), without a Project Gutenberg header and licence and without any sentence that mentions a password.</summary>
    public static List<string> Sentences(string text)
    {
        int start = text.IndexOf("*** START OF", StringComparison.Ordinal);
        if (start >= 0) start = text.IndexOf('\n', start) + 1;
        int end = text.IndexOf("*** END OF", StringComparison.Ordinal);
        var body = text[Math.Max(0, start)..(end > start ? end : text.Length)];
        body = Whitespace().Replace(body, " ");
        return [.. SentencePattern().Matches(body).Select(m => m.Value.Trim()).Where(s => s.Length > 0 && !s.Contains("password", StringComparison.OrdinalIgnoreCase))];
    }

    /// <summary>
    /// A run of consecutive sentences from a random place, up to <paramref name="target"/> tokens with the fact (never
    /// more: a held-out document must fit the context the model is tuned at), the fact at a random sentence boundary.
    /// Returns the text, the token offset of the fact and the document's tokens.
    /// </summary>
    /// <exception cref="ArgumentException">The sentences cannot give a document of at least three sentences within <paramref name="target"/> tokens.</exception>
    public static (string Text, int FactToken, int Tokens) Document(List<string> sentences, ITokenizer tok, int target, string fact, ref SplitMix64 rng)
    {
        var picked = new List<string>();
        int factTokens = tok.Encode(fact, false, false).Length, tokens = factTokens;
        // A sentence longer than the whole budget would end the document at once: start again after it.
        for (int s = rng.NextInt(Math.Max(1, sentences.Count - 400)); s < sentences.Count; s++)
        {
            int t = tok.Encode(" " + sentences[s], false, false).Length;
            if (tokens + t > target)
            {
                if (picked.Count >= 3) break;
                picked.Clear();
                tokens = factTokens;
                continue;
            }
            picked.Add(sentences[s]);
            tokens += t;
        }
        if (picked.Count < 3) throw new ArgumentException($"the text has no run of three sentences that fits {target} tokens with the fact");
        int at = rng.NextInt(picked.Count + 1);
        picked.Insert(at, fact);
        var text = string.Join(' ', picked);
        int factToken = tok.Encode(string.Join(' ', picked.Take(at)), false, false).Length;
        return (text, factToken, tok.Encode(text, false, false).Length);
    }

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();

    [GeneratedRegex(@"[^.!?]+[.!?]+[""')\]]*")]
    private static partial Regex SentencePattern();
}
