using System.Globalization;

namespace Elongate.Data;

/// <summary>Settings of <see cref="RetrievalDocuments"/>: seed, document lengths and the share of each kind.</summary>
public sealed record RetrievalDocumentOptions
{
    /// <summary>Seed; document i is a pure function of (seed, i, the filler text, the options).</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// Longest document, in length units (tokens when the generator has a tokenizer, else words). Set it to the
    /// trained context (less a few tokens for BOS/EOS) so the distances span the whole trained length.
    /// </summary>
    public int MaxLength { get; init; } = 256;

    /// <summary>Shortest document (0: a quarter of <see cref="MaxLength"/>). Each length is drawn in [min, max], uniformly
    /// or, with <see cref="LogUniformLengths"/>, log-uniformly.</summary>
    public int MinLength { get; init; }

    /// <summary>
    /// Draw lengths log-uniformly in [min, max] (each doubling of the length gets the same share of documents) rather
    /// than uniformly. Over a wide range this keeps short distances practised: from 63 to 2,046 tokens, uniform
    /// lengths put 1 document in 10 within the first 254 tokens, log-uniform lengths 4 in 10.
    /// </summary>
    public bool LogUniformLengths { get; init; }

    /// <summary>Relative share of passkey documents (the passkey probe's own wording).</summary>
    public double PasskeyWeight { get; init; } = 0.5;

    /// <summary>Relative share of key→value lookup documents (many pairs, then a query for one of them).</summary>
    public double KeyValueWeight { get; init; } = 0.35;

    /// <summary>Relative share of repeated-passage documents (a passage, filler, the same passage again).</summary>
    public double RepeatedPassageWeight { get; init; } = 0.075;

    /// <summary>Relative share of first-sentence documents (book text, then the first-sentence question and its answer).</summary>
    public double FirstSentenceWeight { get; init; } = 0.075;

    /// <summary>
    /// Relative share of copy-list documents (random codes and made-up names, filler, the same list again). They
    /// are the densest teacher of copying: nothing in the list's second copy can be predicted but by attending back
    /// to the first. Off by default: trained with loss on the answers only (<see cref="LossTails"/>), a list's
    /// 20–60 answer tokens outweighed the passkeys' five digits and the 1M model learned neither in 1,500 steps, while
    /// a passkey-heavy mix taught it passkeys in 700 (docs/rope-ablation-scaled/README.md).
    /// </summary>
    public double CopyListWeight { get; init; }

    /// <summary>
    /// Relative share of random-piece documents (random vocabulary pieces, " | ", the same pieces again). Off by
    /// default. Copy lists and prose taught the 1m model no copy outside digits. A pure adjacent copy taught it one in
    /// about 1,000 steps (docs/rope-ablation-retrieval/induction).
    /// </summary>
    public double RandomPiecesWeight { get; init; }

    /// <summary>
    /// Share of passkey documents whose filler is the probe's own repeated block ("The grass is green. …") rather
    /// than sentences of the given text; the rest use the text, so the needle is not trivially separable.
    /// </summary>
    public double ProbeFillerShare { get; init; } = 0.5;

    /// <summary>Digits of passkeys and of lookup values (uniform over the numbers with exactly this many digits).</summary>
    public int KeyDigits { get; init; } = 5;

    /// <summary>Key→value pairs per lookup document: drawn uniformly in [2, this].</summary>
    public int MaxPairs { get; init; } = 12;

    /// <summary>The shortest document length in effect.</summary>
    public int EffectiveMinLength => MinLength > 0 ? MinLength : Math.Max(1, MaxLength / 4);

    /// <summary>The name of each kind in a weight list (<see cref="ParseWeights"/>): passkey, key-value, repeated-passage, first-sentence, copy-list, random-pieces.</summary>
    public static string KindName(RetrievalKind kind) => kind switch
    {
        RetrievalKind.Passkey => "passkey",
        RetrievalKind.KeyValue => "key-value",
        RetrievalKind.RepeatedPassage => "repeated-passage",
        RetrievalKind.FirstSentence => "first-sentence",
        RetrievalKind.CopyList => "copy-list",
        _ => "random-pieces",
    };

    /// <summary>The relative share of each kind in effect, in <see cref="RetrievalKind"/> order.</summary>
    public IReadOnlyDictionary<RetrievalKind, double> Weights => new Dictionary<RetrievalKind, double>
    {
        [RetrievalKind.Passkey] = PasskeyWeight, [RetrievalKind.KeyValue] = KeyValueWeight, [RetrievalKind.RepeatedPassage] = RepeatedPassageWeight,
        [RetrievalKind.FirstSentence] = FirstSentenceWeight, [RetrievalKind.CopyList] = CopyListWeight, [RetrievalKind.RandomPieces] = RandomPiecesWeight,
    };

    /// <summary>These options with the kinds' relative shares replaced by <paramref name="weights"/>; a kind it does not name gets 0.</summary>
    public RetrievalDocumentOptions WithWeights(IReadOnlyDictionary<RetrievalKind, double> weights)
    {
        ArgumentNullException.ThrowIfNull(weights);
        double W(RetrievalKind k) => weights.TryGetValue(k, out var w) ? w : 0;
        return this with
        {
            PasskeyWeight = W(RetrievalKind.Passkey), KeyValueWeight = W(RetrievalKind.KeyValue), RepeatedPassageWeight = W(RetrievalKind.RepeatedPassage),
            FirstSentenceWeight = W(RetrievalKind.FirstSentence), CopyListWeight = W(RetrievalKind.CopyList), RandomPiecesWeight = W(RetrievalKind.RandomPieces),
        };
    }

    /// <summary>
    /// Parses a weight list such as "passkey=0.35,key-value=0.25,first-sentence=0.3" (names from <see cref="KindName"/>,
    /// relative shares ≥ 0, at least one above 0; kinds left out get 0). Throws <see cref="ArgumentException"/> naming
    /// the offending entry.
    /// </summary>
    public static IReadOnlyDictionary<RetrievalKind, double> ParseWeights(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var kinds = Enum.GetValues<RetrievalKind>().ToDictionary(KindName, k => k, StringComparer.Ordinal);
        var weights = new Dictionary<RetrievalKind, double>();
        foreach (var entry in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = entry.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"retrieval kinds: '{entry}' is not name=weight");
            var name = entry[..eq].Trim();
            if (!kinds.TryGetValue(name, out var kind)) throw new ArgumentException($"retrieval kinds: unknown kind '{name}'; known: {string.Join(", ", kinds.Keys)}");
            if (!double.TryParse(entry[(eq + 1)..].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var w) || !(w >= 0) || double.IsInfinity(w))
                throw new ArgumentException($"retrieval kinds: the weight of {name} must be a finite number ≥ 0, got '{entry[(eq + 1)..].Trim()}'");
            if (!weights.TryAdd(kind, w)) throw new ArgumentException($"retrieval kinds: {name} is given twice");
        }
        if (weights.Values.Sum() <= 0) throw new ArgumentException($"retrieval kinds: '{text}' gives no kind a weight above 0");
        return weights;
    }

    /// <summary>Checks every value; throws <see cref="ArgumentException"/> naming the setting.</summary>
    public void Validate()
    {
        if (MaxLength < 8) throw new ArgumentException($"retrieval documents: max length must be ≥ 8, got {MaxLength}");
        if (MinLength < 0 || MinLength > MaxLength) throw new ArgumentException($"retrieval documents: min length {MinLength} must be in [0, max length {MaxLength}]");
        double[] w = [PasskeyWeight, KeyValueWeight, RepeatedPassageWeight, FirstSentenceWeight, CopyListWeight, RandomPiecesWeight];
        if (w.Any(x => !(x >= 0) || double.IsInfinity(x)) || w.Sum() <= 0)
            throw new ArgumentException("retrieval documents: kind weights must be finite, ≥ 0 and not all 0");
        if (!(ProbeFillerShare >= 0 && ProbeFillerShare <= 1)) throw new ArgumentException($"retrieval documents: probe filler share must be in [0, 1], got {ProbeFillerShare}");
        if (KeyDigits is < 2 or > 9) throw new ArgumentException($"retrieval documents: key digits must be in [2, 9], got {KeyDigits}");
        if (MaxPairs < 2) throw new ArgumentException($"retrieval documents: max pairs must be ≥ 2, got {MaxPairs}");
    }
}
