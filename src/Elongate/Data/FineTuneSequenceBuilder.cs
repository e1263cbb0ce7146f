namespace Elongate.Data;

/// <summary>
/// Lays labelled instruction examples out in --seq-len training rows the paper's way (Xiong et al. 2023, §4): short
/// examples packed together, long ones one per row and padded on the right, none ever truncated.
/// </summary>
/// <remarks>
/// <para><b>Order.</b> The examples are shuffled with the seed (unless <see cref="FineTuneSequenceOptions.Shuffle"/> is
/// off) and walked once. A long example (at least <see cref="FineTuneSequenceOptions.EffectivePackThreshold"/> tokens)
/// becomes a row at once; a short one goes into the open packing row, or, when it does not fit there, closes that row
/// and opens the next (next-fit: one pass, deterministic, and packing order follows the shuffled order).</para>
/// <para><b>Segments.</b> Each packed example gets its own segment id (0, 1, 2… along the row) so attention stays inside
/// it; with <see cref="FineTuneSequenceOptions.MaskAcrossExamples"/> off the whole packed row is segment 0. A long
/// example's row is segment 0. The rest of a row is padding: input <see cref="FineTuneSequenceOptions.PadId"/>,
/// target <see cref="FineTuneSequence.IgnoreIndex"/>, segment <see cref="FineTuneSequence.PaddingSegment"/>.</para>
/// <para><b>Targets.</b> Position i of an example predicts its token i + 1, and carries loss only when that predicted
/// token's role does: <see cref="TokenRole.Assistant"/> under <see cref="LossTokens.Answers"/>, also
/// <see cref="TokenRole.User"/> and <see cref="TokenRole.System"/> under <see cref="LossTokens.AnswersAndInput"/>,
/// <see cref="TokenRole.Template"/> never. An example's last token predicts nothing (the next token belongs to another
/// example or to padding), so no target crosses an example boundary, masked or not.</para>
/// <para><b>Too long.</b> An example longer than the row is an <see cref="InstructionDataException"/> naming it, or,
/// with <see cref="FineTuneSequenceOptions.DropTooLong"/>, left out and counted in the report.</para>
/// </remarks>
public static class FineTuneSequenceBuilder
{
    /// <summary>Builds the rows for <paramref name="examples"/>.</summary>
    /// <exception cref="InstructionDataException">An example is longer than the row and DropTooLong is off.</exception>
    /// <exception cref="ArgumentException">Bad options, or an example whose tokens and roles differ in length or that is empty.</exception>
    public static FineTuneSet Build(IReadOnlyList<LabeledExample> examples, FineTuneSequenceOptions options)
    {
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentNullException.ThrowIfNull(options);
        int seqLen = options.SeqLen;
        if (seqLen < 2) throw new ArgumentException($"the sequence length must be at least 2 (got {seqLen})", nameof(options));
        int threshold = options.EffectivePackThreshold;
        if (threshold < 0) throw new ArgumentException($"the packing threshold must not be negative (got {threshold})", nameof(options));
        if (options.PadId < 0) throw new ArgumentException($"the pad id must not be negative (got {options.PadId})", nameof(options));

        var order = new int[examples.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        if (options.Shuffle) new SplitMix64(options.Seed).Shuffle(order.AsSpan());

        var rows = new List<FineTuneSequence>();
        var lengths = new List<int>();
        var dropped = new List<string>();
        int packed = 0, padded = 0, packedRows = 0, withoutLoss = 0;
        long tokens = 0, loss = 0;
        Row? open = null;
        foreach (var index in order)
        {
            var e = examples[index] ?? throw new ArgumentException($"example {index} is null", nameof(examples));
            int n = e.Tokens.Length;
            if (e.Roles.Length != n) throw new ArgumentException($"{e.Id}: {n} tokens but {e.Roles.Length} roles", nameof(examples));
            if (n == 0) throw new ArgumentException($"{e.Id}: the example has no tokens", nameof(examples));
            if (n > seqLen)
            {
                if (!options.DropTooLong)
                    throw new InstructionDataException(e.Id,
                        $"has {n} tokens, more than the sequence length {seqLen}; examples are never truncated: raise --seq-len, shorten the example, or pass --drop-too-long to leave such examples out");
                dropped.Add(e.Id);
                continue;
            }
            lengths.Add(n);
            tokens += n;
            int carried;
            if (n < threshold)
            {
                if (open is not null && open.Used + n > seqLen)
                {
                    rows.Add(open.Finish(options.PadId));
                    packedRows++;
                    open = null;
                }
                open ??= new Row(seqLen);
                carried = open.Place(e, options.MaskAcrossExamples ? open.Examples : 0, options.Loss);
                packed++;
            }
            else
            {
                var row = new Row(seqLen);
                carried = row.Place(e, 0, options.Loss);
                rows.Add(row.Finish(options.PadId));
                padded++;
            }
            loss += carried;
            if (carried == 0) withoutLoss++;
        }
        if (open is not null)
        {
            rows.Add(open.Finish(options.PadId));
            packedRows++;
        }
        long positions = (long)rows.Count * seqLen;
        var report = new FineTuneReport
        {
            SeqLen = seqLen, PackThreshold = threshold, Loss = options.Loss, MaskAcrossExamples = options.MaskAcrossExamples,
            Examples = examples.Count, PackedExamples = packed, PaddedExamples = padded, DroppedExamples = dropped.Count, DroppedIds = dropped,
            ExamplesWithoutLoss = withoutLoss, Rows = rows.Count, PackedRows = packedRows, Tokens = tokens, LossTokenCount = loss,
            PaddingTokens = positions - tokens, PaddingShare = positions == 0 ? 0 : (double)(positions - tokens) / positions,
            Lengths = LengthReport.From(lengths),
        };
        return new FineTuneSet(rows, report);
    }

    /// <summary>Whether a token of role <paramref name="role"/> is a target under <paramref name="loss"/>.</summary>
    public static bool CarriesLoss(TokenRole role, LossTokens loss) => role switch
    {
        TokenRole.Assistant => true,
        TokenRole.User or TokenRole.System => loss == LossTokens.AnswersAndInput,
        _ => false,
    };

    /// <summary>A row being filled.</summary>
    private sealed class Row(int seqLen)
    {
        private readonly int[] _inputs = new int[seqLen], _targets = new int[seqLen], _segments = new int[seqLen];

        /// <summary>Positions filled so far.</summary>
        public int Used { get; private set; }

        /// <summary>Examples placed so far.</summary>
        public int Examples { get; private set; }

        /// <summary>Writes <paramref name="e"/> at the end of the row; returns how many of its targets carry loss.</summary>
        public int Place(LabeledExample e, int segment, LossTokens loss)
        {
            int n = e.Tokens.Length, carried = 0;
            for (int i = 0; i < n; i++)
            {
                _inputs[Used + i] = e.Tokens[i];
                bool target = i + 1 < n && CarriesLoss(e.Roles[i + 1], loss);
                _targets[Used + i] = target ? e.Tokens[i + 1] : FineTuneSequence.IgnoreIndex;
                _segments[Used + i] = segment;
                if (target) carried++;
            }
            Used += n;
            Examples++;
            return carried;
        }

        /// <summary>Pads the rest of the row and hands it over.</summary>
        public FineTuneSequence Finish(int padId)
        {
            _inputs.AsSpan(Used).Fill(padId);
            _targets.AsSpan(Used).Fill(FineTuneSequence.IgnoreIndex);
            _segments.AsSpan(Used).Fill(FineTuneSequence.PaddingSegment);
            return new FineTuneSequence(_inputs, _targets, _segments);
        }
    }
}
