using System.Globalization;
using System.Text;
using System.Text.Json;
using Elongate.Common;
using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>
/// Synthetic retrieval documents for a pretraining mix, so a small model learns to retrieve from its context:
/// passkeys (worded exactly as the passkey probe), key→value lookups, repeated passages and first-sentence questions
/// (worded exactly as FIRST-SENTENCE-RETRIEVAL), with the fact at a random distance from its question, up to
/// <see cref="RetrievalDocumentOptions.MaxLength"/>. Filler is consecutive sentences of a given text (book
/// sentences), so the fact is not trivially separable from its surroundings.
/// </summary>
/// <remarks>
/// Document i is a pure function of (seed, i, the sentences, the options, the tokenizer): its own SplitMix64 stream
/// is seeded from the seed and i, so documents can be generated in any order or in parallel. Lengths are measured in
/// tokens when a tokenizer is given (each piece encoded on its own, without BOS; the whole document encodes within a
/// few tokens of that sum, because pieces meet at spaces), else in whitespace-separated words. A length is drawn
/// uniformly in [min, max]; a document never gets shorter than its fixed parts (task line, needle, question), so
/// with a tiny maximum it can exceed it.
/// To mix a share s of these into training by tokens, prepare them as their own source and give the sources weights
/// (1 − s, s): every training sequence has the same length, so a share of sequences is a share of tokens.
/// </remarks>
public sealed class RetrievalDocuments
{
    /// <summary>The passkey probe's task line (Landmark Attention's wording); Evaluation's PasskeyProbe.TaskLine is this constant.</summary>
    public const string PasskeyTaskLine = "There is an important info hidden inside a lot of irrelevant text. Find it and memorize them. I will quiz you about the important information there.";
    /// <summary>The passkey probe's filler block.</summary>
    public const string PasskeyFiller = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
    /// <summary>The passkey probe's question; the key follows it after a space.</summary>
    public const string PasskeyQuestion = "What is the pass key? The pass key is";
    /// <summary>FIRST-SENTENCE-RETRIEVAL's instruction; Evaluation's FirstSentenceEvaluation.Instruction is this constant. The sentence follows after a space.</summary>
    public const string FirstSentenceInstruction = "\n\nQuestion: What is the first sentence of the text above?\nAnswer:";
    /// <summary>The line that opens a copy-list document, and the one before the list's second copy.</summary>
    public const string CopyListHeader = "Here is a list of codes and names. Copy it exactly at the end.";
    /// <summary>The line before a copy-list document's second copy.</summary>
    public const string CopyListAgain = "The list again:";
    /// <summary>The separator between a random-piece document's two copies.</summary>
    public const string RandomPiecesSeparator = "|";

    /// <summary>The line that opens a key→value document.</summary>
    public const string KeyValueHeader = "Below are the codes of some names, hidden in a story. Remember them. I will ask for one of them.";

    /// <summary>The passkey probe's needle sentence for <paramref name="key"/>.</summary>
    public static string PasskeyNeedle(int key) => $"The pass key is {key}. Remember it. {key} is the pass key.";

    private static readonly string[] Onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "kl", "st", "tr", "qu"];
    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ou"];
    private static readonly string[] Codas = ["", "", "n", "r", "l", "s", "th", "m", "x"];

    private readonly string[] _sentences;
    private readonly int[] _sentenceUnits;
    private readonly RetrievalDocumentOptions _options;
    private readonly ITokenizer? _tokenizer;
    private readonly double[] _cumulative;
    private readonly int _lastWithShare;
    private readonly int[] _pieces;

    /// <param name="sentences">Filler sentences in text order (consecutive ones are used together); see <see cref="SentencesFrom"/>.</param>
    /// <param name="options">Lengths, kinds and seed.</param>
    /// <param name="tokenizer">Measures lengths in its tokens; null measures in words.</param>
    public RetrievalDocuments(IReadOnlyList<string> sentences, RetrievalDocumentOptions options, ITokenizer? tokenizer = null)
    {
        ArgumentNullException.ThrowIfNull(sentences);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _sentences = sentences.Select(s => Normalize(s)).Where(s => s.Length > 0).ToArray();
        if (_sentences.Length < 2) throw new ArgumentException($"retrieval documents need at least 2 non-empty filler sentences, got {_sentences.Length}");
        _options = options;
        _tokenizer = tokenizer;
        _sentenceUnits = _sentences.Select(Units).ToArray();
        double[] w = [options.PasskeyWeight, options.KeyValueWeight, options.RepeatedPassageWeight, options.FirstSentenceWeight, options.CopyListWeight, options.RandomPiecesWeight];
        _cumulative = new double[w.Length];
        double acc = 0, total = w.Sum();
        for (int i = 0; i < w.Length; i++) _cumulative[i] = acc += w[i] / total;
        _lastWithShare = Array.FindLastIndex(w, x => x > 0);
        _pieces = tokenizer?.Vocabulary.NormalIds() ?? [];
        if (options.RandomPiecesWeight > 0 && tokenizer is not null && _pieces.Length < 2)
            throw new ArgumentException($"random-piece documents need a vocabulary with at least 2 normal pieces, got {_pieces.Length}");
    }

    /// <summary>The settings in effect.</summary>
    public RetrievalDocumentOptions Options => _options;

    /// <summary>"tokens" or "words": what <see cref="RetrievalDocument.Length"/> and distances count.</summary>
    public string Unit => _tokenizer is null ? "words" : "tokens";

    /// <summary>
    /// Splits text into sentences for filler: whitespace runs become one space, a sentence ends at '.', '!' or '?'
    /// followed by whitespace; sentences of fewer than <paramref name="minWords"/> or more than
    /// <paramref name="maxWords"/> words are dropped (headings, lists, run-ons), the rest kept in order.
    /// </summary>
    public static List<string> SentencesFrom(string text, int minWords = 4, int maxWords = 40)
    {
        ArgumentNullException.ThrowIfNull(text);
        var flat = Normalize(text);
        var list = new List<string>();
        int start = 0;
        for (int i = 0; i < flat.Length; i++)
        {
            if (flat[i] is not ('.' or '!' or '?') || (i + 1 < flat.Length && flat[i + 1] != ' ')) continue;
            var s = flat[start..(i + 1)].Trim();
            start = i + 1;
            int words = WordCount(s);
            if (words >= minWords && words <= maxWords) list.Add(s);
        }
        return list;
    }

    /// <summary>Document <paramref name="index"/> (≥ 0).</summary>
    public RetrievalDocument Document(int index)
    {
        if (index < 0) throw new ArgumentOutOfRangeException(nameof(index), index, "must be ≥ 0");
        var rng = SplitMix64.ForItem(_options.Seed, (ulong)index);
        double u = rng.NextDouble();
        int ki = Array.FindIndex(_cumulative, c => u < c);
        // u can reach the last cumulative value only by rounding: take the last kind with a share.
        if (ki < 0) ki = _lastWithShare;
        var kind = (RetrievalKind)ki;
        int min = _options.EffectiveMinLength, max = _options.MaxLength;
        int length = _options.LogUniformLengths
            ? Math.Clamp((int)Math.Floor(min * Math.Pow((max + 1.0) / min, rng.NextDouble())), min, max)
            : min + rng.NextInt(max - min + 1);
        var b = new Builder(this);
        return kind switch
        {
            RetrievalKind.Passkey => Passkey(index, ref rng, length, b),
            RetrievalKind.KeyValue => KeyValue(index, ref rng, length, b),
            RetrievalKind.RepeatedPassage => Repeated(index, ref rng, length, b),
            RetrievalKind.CopyList => CopyList(index, ref rng, length, b),
            RetrievalKind.RandomPieces => RandomPieces(index, ref rng, length, b),
            _ => First(index, ref rng, length, b),
        };
    }

    /// <summary>Documents <paramref name="start"/> … start + count − 1.</summary>
    public IEnumerable<RetrievalDocument> Documents(int start, int count)
    {
        for (int i = 0; i < count; i++) yield return Document(start + i);
    }

    /// <summary>
    /// How many documents hold about <paramref name="units"/> length units: the mean drawn length is (min + max) / 2 for
    /// uniform lengths and (max + 1 − min) / ln((max + 1) / min) for log-uniform ones.
    /// </summary>
    public int CountFor(long units)
    {
        if (units < 0) throw new ArgumentOutOfRangeException(nameof(units));
        int min = _options.EffectiveMinLength, max = _options.MaxLength;
        double mean = _options.LogUniformLengths && max > min ? (max + 1.0 - min) / Math.Log((max + 1.0) / min) : (min + max) / 2.0;
        return (int)Math.Min(int.MaxValue, Math.Ceiling(units / mean));
    }

    /// <summary>
    /// Writes documents 0 … count − 1 as JSON lines ({"id", "kind", "answer", "distance", "text"}; the "text" field is
    /// what `data prepare` reads) to <paramref name="path"/> atomically, and returns the documents' total length in units.
    /// </summary>
    public long WriteJsonl(string path, int count)
    {
        if (count < 1) throw new ArgumentOutOfRangeException(nameof(count), count, "must be ≥ 1");
        long total = 0;
        AtomicFile.Write(path, stream =>
        {
            using var w = new Utf8JsonWriter(stream);
            var newline = "\n"u8.ToArray();
            foreach (var d in Documents(0, count))
            {
                w.Reset(stream);
                w.WriteStartObject();
                w.WriteString("id", $"retrieval-{d.Index:D6}");
                w.WriteString("kind", d.Kind.ToString());
                w.WriteString("answer", d.Answer);
                w.WriteNumber("distance", d.Distance);
                w.WriteString("text", d.Text);
                w.WriteEndObject();
                w.Flush();
                stream.Write(newline);
                total += d.Length;
            }
        });
        return total;
    }

    private RetrievalDocument Passkey(int index, ref SplitMix64 rng, int length, Builder b)
    {
        int key = Number(ref rng);
        string needle = PasskeyNeedle(key), answer = key.ToString(CultureInfo.InvariantCulture);
        bool probeFiller = rng.NextDouble() < _options.ProbeFillerShare;
        int budget = Math.Max(0, length - Units(PasskeyTaskLine) - Units(needle) - Units(PasskeyQuestion) - Units(answer + "."));
        int after = rng.NextInt(budget + 1), before = budget - after;
        b.Add(PasskeyTaskLine);
        if (probeFiller) b.ProbeFiller(before); else b.Filler(ref rng, before);
        int fact = b.Position;
        b.Add(needle);
        if (probeFiller) b.ProbeFiller(after); else b.Filler(ref rng, after);
        b.Add(PasskeyQuestion);
        int at = b.Position;
        b.Add(answer + ".");
        return new RetrievalDocument(index, RetrievalKind.Passkey, b.Text, answer, b.Position, at - fact);
    }

    private RetrievalDocument KeyValue(int index, ref SplitMix64 rng, int length, Builder b)
    {
        int pairs = 2 + rng.NextInt(_options.MaxPairs - 1);
        var names = new List<string>();
        var used = new HashSet<string>();
        while (names.Count < pairs)
        {
            var n = Name(ref rng);
            if (used.Add(n)) names.Add(n);
        }
        var values = new int[pairs];
        for (int i = 0; i < pairs; i++) values[i] = Number(ref rng);
        string Pair(int i) => $"The code for {names[i]} is {values[i]}.";
        // Drop pairs (down to 2) while the fixed parts alone would pass the drawn length.
        int Fixed(int n) => Units(KeyValueHeader) + Enumerable.Range(0, n).Sum(i => Units(Pair(i))) + Units($"What is the code for {names[0]}? The code for {names[0]} is {values[0]}.");
        while (pairs > 2 && Fixed(pairs) > length) pairs--;
        int q = rng.NextInt(pairs);
        string question = $"What is the code for {names[q]}? The code for {names[q]} is";
        string answer = values[q].ToString(CultureInfo.InvariantCulture);
        int budget = Math.Max(0, length - Units(KeyValueHeader) - Enumerable.Range(0, pairs).Sum(i => Units(Pair(i))) - Units(question) - Units(answer + "."));
        // The pairs sit at sorted uniform cut points of the filler budget, so the queried one is anywhere in the text.
        var cuts = new int[pairs];
        for (int i = 0; i < pairs; i++) cuts[i] = rng.NextInt(budget + 1);
        Array.Sort(cuts);
        b.Add(KeyValueHeader);
        int fact = 0, previous = 0;
        for (int i = 0; i < pairs; i++)
        {
            b.Filler(ref rng, cuts[i] - previous);
            previous = cuts[i];
            if (i == q) fact = b.Position;
            b.Add(Pair(i));
        }
        b.Filler(ref rng, budget - previous);
        b.Add(question);
        int at = b.Position;
        b.Add(answer + ".");
        return new RetrievalDocument(index, RetrievalKind.KeyValue, b.Text, answer, b.Position, at - fact);
    }

    private RetrievalDocument Repeated(int index, ref SplitMix64 rng, int length, Builder b)
    {
        int start = rng.NextInt(_sentences.Length), count = 1 + rng.NextInt(3);
        string Passage(int n) => string.Join(" ", Enumerable.Range(start, n).Select(i => _sentences[i % _sentences.Length]));
        // Fewer sentences (or, a few times, another start) while the two copies alone would pass the drawn length.
        for (int tries = 0; tries < 8 && 2 * Units(Passage(count)) > length; tries++)
            if (count > 1) count--; else start = rng.NextInt(_sentences.Length);
        var passage = Passage(count);
        int p = Units(passage);
        int budget = Math.Max(0, length - 2 * p);
        int between = rng.NextInt(budget + 1), before = budget - between;
        b.Filler(ref rng, before);
        int fact = b.Position;
        b.Add(passage);
        b.Filler(ref rng, between);
        int at = b.Position;
        b.Add(passage);
        return new RetrievalDocument(index, RetrievalKind.RepeatedPassage, b.Text, passage, b.Position, at - fact);
    }

    private RetrievalDocument CopyList(int index, ref SplitMix64 rng, int length, Builder b)
    {
        int items = 3 + rng.NextInt(14);
        var list = new List<string>();
        for (int i = 0; i < items; i++)
            list.Add(rng.NextDouble() < 0.6 ? Number(ref rng).ToString(CultureInfo.InvariantCulture) : Name(ref rng));
        string List() => string.Join(" ", list);
        // Fewer items (down to 2) while the header and the two copies alone would pass the drawn length.
        while (list.Count > 2 && Units(CopyListHeader) + Units(CopyListAgain) + 2 * Units(List()) > length) list.RemoveAt(list.Count - 1);
        var text = List();
        int budget = Math.Max(0, length - Units(CopyListHeader) - Units(CopyListAgain) - 2 * Units(text));
        int between = rng.NextInt(budget + 1);
        b.Filler(ref rng, budget - between);
        b.Add(CopyListHeader);
        int fact = b.Position;
        b.Add(text);
        b.Filler(ref rng, between);
        b.Add(CopyListAgain);
        int at = b.Position;
        b.Add(text);
        return new RetrievalDocument(index, RetrievalKind.CopyList, b.Text, text, b.Position, at - fact);
    }

    private RetrievalDocument RandomPieces(int index, ref SplitMix64 rng, int length, Builder b)
    {
        // n pieces, the separator, the same n pieces: n is half of what the drawn length leaves after the separator.
        // With a tokenizer the pieces are drawn as ids and decoded, so a copy is n tokens give or take the few that
        // re-encoding merges or splits; without one they are lowercase letters, one word each.
        int n = Math.Max(1, (length - Units(RandomPiecesSeparator)) / 2);
        string text;
        if (_tokenizer is null)
        {
            var letters = new string[n];
            for (int i = 0; i < n; i++) letters[i] = ((char)('a' + rng.NextInt(26))).ToString();
            text = string.Join(" ", letters);
        }
        else
        {
            var ids = new int[n];
            for (int i = 0; i < n; i++) ids[i] = _pieces[rng.NextInt(_pieces.Length)];
            text = Normalize(_tokenizer.Decode(ids));
            // A single piece that is only "▁" decodes to whitespace; the document still needs something to copy.
            if (text.Length == 0) text = "a";
        }
        // The fact is the first copy, at the document's start, so the distance is where the second copy begins.
        b.Add(text);
        b.Add(RandomPiecesSeparator);
        int at = b.Position;
        b.Add(text);
        return new RetrievalDocument(index, RetrievalKind.RandomPieces, b.Text, text, b.Position, at);
    }

    private RetrievalDocument First(int index, ref SplitMix64 rng, int length, Builder b)
    {
        int start = rng.NextInt(_sentences.Length);
        string first = _sentences[start];
        int budget = Math.Max(0, length - Units(FirstSentenceInstruction) - 2 * _sentenceUnits[start]);
        b.Add(first);
        b.Filler(ref rng, budget, start + 1);
        b.Append(FirstSentenceInstruction, Units(FirstSentenceInstruction));
        int at = b.Position;
        b.Add(first);
        return new RetrievalDocument(index, RetrievalKind.FirstSentence, b.Text, first, b.Position, at);
    }

    private int Number(ref SplitMix64 rng)
    {
        int lo = (int)Math.Pow(10, _options.KeyDigits - 1), hi = (int)Math.Pow(10, _options.KeyDigits) - 1;
        return lo + rng.NextInt(hi - lo + 1);
    }

    private static string Name(ref SplitMix64 rng)
    {
        var sb = new StringBuilder();
        int syllables = 2 + rng.NextInt(2);
        for (int i = 0; i < syllables; i++) sb.Append(Onsets[rng.NextInt(Onsets.Length)]).Append(Vowels[rng.NextInt(Vowels.Length)]);
        sb.Append(Codas[rng.NextInt(Codas.Length)]);
        sb[0] = char.ToUpperInvariant(sb[0]);
        return sb.ToString();
    }

    private int Units(string s) => _tokenizer is null ? WordCount(s) : _tokenizer.Encode(s, addBos: false, addEos: false).Length;

    private static int WordCount(string s)
    {
        int n = 0;
        bool inWord = false;
        foreach (char c in s)
        {
            bool w = !char.IsWhiteSpace(c);
            if (w && !inWord) n++;
            inWord = w;
        }
        return n;
    }

    private static string Normalize(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool space = false;
        foreach (char c in s)
        {
            if (char.IsWhiteSpace(c)) { space = true; continue; }
            if (space && sb.Length > 0) sb.Append(' ');
            space = false;
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Accumulates pieces separated by spaces and counts their units.</summary>
    private sealed class Builder(RetrievalDocuments owner)
    {
        private readonly StringBuilder _text = new();
        public int Position { get; private set; }
        public string Text => _text.ToString();

        public void Add(string piece) => Append(piece, owner.Units(piece), space: true);

        public void Append(string piece, int units, bool space = false)
        {
            if (space && _text.Length > 0) _text.Append(' ');
            _text.Append(piece);
            Position += units;
        }

        /// <summary>Consecutive text sentences from a random start (or <paramref name="from"/>) until the next would pass <paramref name="budget"/> units.</summary>
        public void Filler(ref SplitMix64 rng, int budget, int? from = null)
        {
            var s = owner._sentences;
            int i = from ?? rng.NextInt(s.Length), used = 0, misses = 0;
            // A sentence that does not fit is skipped for a following one that does, a few times, so short budgets still fill.
            while (used < budget && misses < 8)
            {
                int u = owner._sentenceUnits[i % s.Length];
                if (used + u <= budget) { Append(s[i % s.Length], u, space: true); used += u; misses = 0; }
                else misses++;
                i++;
            }
        }

        /// <summary>Whole blocks of the passkey probe's filler while they fit in <paramref name="budget"/> units.</summary>
        public void ProbeFiller(int budget)
        {
            int u = owner.Units(PasskeyFiller);
            for (int used = 0; used + u <= budget; used += u) Add(PasskeyFiller);
        }
    }
}
