using Elongate.Tokenization;

namespace Elongate.Data;

/// <summary>How <see cref="FineTuneSequenceBuilder"/> lays labelled examples out in --seq-len rows.</summary>
public sealed record FineTuneSequenceOptions
{
    /// <summary>Tokens per row (--seq-len); at least 2.</summary>
    public required int SeqLen { get; init; }

    /// <summary>
    /// Examples with fewer tokens than this are packed together; the others get a row each, padded on the right.
    /// Null means <see cref="SeqLen"/>/2; 0 pads every example, anything above <see cref="SeqLen"/> packs every one.
    /// </summary>
    /// <remarks>
    /// The paper (Xiong et al. 2023, §4) splits by source, not by length: its short RLHF dialogues are packed into
    /// 16,384-token sequences and its long self-instruct QA examples are padded, one per sequence. A mixed set does not say
    /// which is which, so a length threshold decides. Half a row is the default because an example of at least half a
    /// row is "long" in the paper's sense — it takes most of its row, and next-fit packing would close its row early
    /// for the next such example anyway — while everything shorter shares rows. Since packed examples are masked from each
    /// other and never cut, the threshold only trades padding against keeping long examples alone.
    /// </remarks>
    public int? PackThreshold { get; init; }

    /// <summary>Which tokens carry loss (--loss answers | answers+input).</summary>
    public LossTokens Loss { get; init; } = LossTokens.Answers;

    /// <summary>
    /// Give each packed example its own segment id, so attention stays inside it (default); false puts a packed row in
    /// one segment, so its examples attend to the earlier ones (targets still never cross an example boundary).
    /// </summary>
    public bool MaskAcrossExamples { get; init; } = true;

    /// <summary>Drop (and count) examples longer than <see cref="SeqLen"/> instead of failing on the first one.</summary>
    public bool DropTooLong { get; init; }

    /// <summary>Shuffle the examples before laying them out (default), with <see cref="Seed"/>; false keeps their order.</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Seed of the shuffle: the same examples and seed always give the same rows.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>Input id written at padding positions (it is attended by nothing and carries no loss, so any valid id
    /// will do); <see cref="PadIdFor"/> picks the vocabulary's.</summary>
    public int PadId { get; init; }

    /// <summary>The pad id to use with <paramref name="vocabulary"/>: its padding id, else EOS, else 0.</summary>
    public static int PadIdFor(TokenVocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if ((uint)vocabulary.PadId < (uint)vocabulary.Count) return vocabulary.PadId;
        if ((uint)vocabulary.EosId < (uint)vocabulary.Count) return vocabulary.EosId;
        return 0;
    }

    /// <summary>The threshold in force: <see cref="PackThreshold"/> or <see cref="SeqLen"/>/2.</summary>
    public int EffectivePackThreshold => PackThreshold ?? SeqLen / 2;
}
