using Elongate.Data;
using Elongate.Tokenization;

namespace Elongate.Tests.Data;

/// <summary>
/// <see cref="FineTuneSequenceBuilder"/>: short examples share rows with their own segments, long ones get a padded row
/// each and are never cut, nothing is predicted across an example boundary, too-long examples fail or are dropped and
/// counted, and the layout depends only on the seed.
/// </summary>
public class FineTuneSequenceBuilderTests
{
    private const int Ignore = FineTuneSequence.IgnoreIndex, Pad = FineTuneSequence.PaddingSegment;

    /// <summary>
    /// Example <paramref name="k"/>: a template token, <paramref name="input"/> user tokens, a template token and
    /// <paramref name="answer"/> assistant tokens; ids 1000k + position, so every token says where it came from.
    /// </summary>
    private static LabeledExample Example(int k, int input, int answer)
    {
        int n = 2 + input + answer;
        var roles = new TokenRole[n];
        for (int i = 1; i <= input; i++) roles[i] = TokenRole.User;
        for (int i = input + 2; i < n; i++) roles[i] = TokenRole.Assistant;
        return new LabeledExample($"set.jsonl:{k}", [.. Enumerable.Range(0, n).Select(i => 1000 * k + i)], roles);
    }

    private static FineTuneSequenceOptions Options(int seqLen) => new() { SeqLen = seqLen, Shuffle = false, PadId = 7 };

    /// <summary>The examples of a row in order, as (example number, first position, length), read off the token ids.</summary>
    private static List<(int K, int Start, int Length)> ExamplesIn(FineTuneSequence row)
    {
        var list = new List<(int, int, int)>();
        for (int i = 0; i < row.Inputs.Length && row.Segments[i] != Pad;)
        {
            int k = row.Inputs[i] / 1000, j = i;
            while (j < row.Inputs.Length && row.Segments[j] != Pad && row.Inputs[j] / 1000 == k) j++;
            list.Add((k, i, j - i));
            i = j;
        }
        return list;
    }

    [Fact]
    public void Short_examples_share_a_row_with_their_own_segments_and_the_rest_is_padding()
    {
        var examples = new[] { Example(1, 2, 1), Example(2, 1, 2), Example(3, 3, 2) }; // 5, 5, 7 tokens
        var set = FineTuneSequenceBuilder.Build(examples, Options(32));
        var row = Assert.Single(set.Sequences);
        Assert.All(new[] { row.Inputs, row.Targets, row.Segments }, a => Assert.Equal(32, a.Length));
        Assert.Equal([(1, 0, 5), (2, 5, 5), (3, 10, 7)], ExamplesIn(row));
        Assert.Equal([0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, .. Enumerable.Repeat(Pad, 15)], row.Segments);
        Assert.Equal([.. examples.SelectMany(e => e.Tokens), .. Enumerable.Repeat(7, 15)], row.Inputs);
        // Answers: a position is trained when the token after it is the example's answer; each example's last token and
        // the padding predict nothing, so no target crosses into the next example.
        Assert.Equal([Ignore, Ignore, Ignore, 1004, Ignore, Ignore, Ignore, 2003, 2004, Ignore,
            Ignore, Ignore, Ignore, Ignore, 3005, 3006, Ignore, .. Enumerable.Repeat(Ignore, 15)], row.Targets);
        var r = set.Report;
        Assert.Equal((3, 3, 0, 0, 1, 1), (r.Examples, r.PackedExamples, r.PaddedExamples, r.DroppedExamples, r.Rows, r.PackedRows));
        Assert.Equal((17L, 5L, 15L), (r.Tokens, r.LossTokenCount, r.PaddingTokens));
        Assert.Equal(15 / 32.0, r.PaddingShare, 12);
        Assert.Equal(16, r.PackThreshold);
    }

    [Fact]
    public void Answers_and_input_also_trains_on_the_user_tokens_never_the_template()
    {
        var e = Example(4, 3, 2);
        var row = FineTuneSequenceBuilder.Build([e], Options(10) with { Loss = LossTokens.AnswersAndInput }).Sequences.Single();
        // 4000 T, 4001-4003 U, 4004 T, 4005-4006 A: 4001..4003 and 4005..4006 are predicted, 4004 (template) is not.
        Assert.Equal([4001, 4002, 4003, Ignore, 4005, 4006, Ignore, Ignore, Ignore, Ignore], row.Targets);
        Assert.True(FineTuneSequenceBuilder.CarriesLoss(TokenRole.System, LossTokens.AnswersAndInput));
        Assert.False(FineTuneSequenceBuilder.CarriesLoss(TokenRole.System, LossTokens.Answers));
        Assert.False(FineTuneSequenceBuilder.CarriesLoss(TokenRole.Template, LossTokens.AnswersAndInput));
    }

    [Fact]
    public void Without_masking_a_packed_row_is_one_segment_and_targets_still_stop_at_each_example()
    {
        var examples = new[] { Example(1, 2, 1), Example(2, 1, 2) };
        var masked = FineTuneSequenceBuilder.Build(examples, Options(16)).Sequences.Single();
        var open = FineTuneSequenceBuilder.Build(examples, Options(16) with { MaskAcrossExamples = false }).Sequences.Single();
        Assert.Equal([.. Enumerable.Repeat(0, 10), .. Enumerable.Repeat(Pad, 6)], open.Segments);
        Assert.Equal(masked.Inputs, open.Inputs);
        Assert.Equal(masked.Targets, open.Targets);
        Assert.Equal(Ignore, open.Targets[4]); // the last token of example 1 does not predict example 2's first
    }

    [Fact]
    public void Long_examples_get_a_row_each_padded_on_the_right_never_truncated()
    {
        var examples = new[] { Example(1, 3, 2), Example(2, 5, 9), Example(3, 1, 1), Example(4, 10, 4) }; // 7, 16, 4, 16 tokens
        var set = FineTuneSequenceBuilder.Build(examples, Options(16) with { PackThreshold = 8 });
        var layout = set.Sequences.Select(ExamplesIn).ToList();
        // Example 2 (16 = the whole row) comes out at once; 1 and 3 share the packing row, closed at the end.
        Assert.Equal([[(2, 0, 16)], [(4, 0, 16)], [(1, 0, 7), (3, 7, 4)]], layout);
        Assert.Equal(examples[1].Tokens, set.Sequences[0].Inputs);
        Assert.All(set.Sequences[0].Segments, s => Assert.Equal(0, s));
        Assert.Equal((2, 2, 1), (set.Report.PackedExamples, set.Report.PaddedExamples, set.Report.PackedRows));

        var padded = FineTuneSequenceBuilder.Build([Example(5, 4, 4)], Options(16) with { PackThreshold = 8 }).Sequences.Single();
        Assert.Equal([.. Example(5, 4, 4).Tokens, .. Enumerable.Repeat(7, 6)], padded.Inputs);
        Assert.Equal([.. Enumerable.Repeat(0, 10), .. Enumerable.Repeat(Pad, 6)], padded.Segments);
        Assert.Equal([.. Enumerable.Repeat(Ignore, 5), 5006, 5007, 5008, 5009, .. Enumerable.Repeat(Ignore, 7)], padded.Targets);
    }

    [Fact]
    public void A_packing_row_that_is_full_closes_and_the_next_one_opens()
    {
        var examples = Enumerable.Range(1, 7).Select(k => Example(k, 2, 2)).ToArray(); // 6 tokens each, 2 fit in 16
        var set = FineTuneSequenceBuilder.Build(examples, Options(16) with { PackThreshold = 100 });
        Assert.Equal([[1, 2], [3, 4], [5, 6], [7]], set.Sequences.Select(r => ExamplesIn(r).Select(x => x.K).ToArray()));
        Assert.All(set.Sequences.Take(3), r => Assert.Equal([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, Pad, Pad, Pad, Pad], r.Segments));
        Assert.Equal(4, set.Report.PackedRows);
        Assert.Equal(0, set.Report.PaddedExamples);
    }

    [Fact]
    public void A_too_long_example_is_an_error_naming_it_or_is_dropped_and_counted()
    {
        var examples = new[] { Example(1, 2, 2), Example(2, 10, 10), Example(3, 2, 2), Example(4, 9, 9) };
        var e = Assert.Throws<InstructionDataException>(() => FineTuneSequenceBuilder.Build(examples, Options(16)));
        Assert.StartsWith("set.jsonl:2: has 22 tokens, more than the sequence length 16", e.Message);
        Assert.Contains("--drop-too-long", e.Message);
        Assert.Equal(2, e.LineNumber);

        var set = FineTuneSequenceBuilder.Build(examples, Options(16) with { DropTooLong = true });
        Assert.Equal(2, set.Report.DroppedExamples);
        Assert.Equal(["set.jsonl:2", "set.jsonl:4"], set.Report.DroppedIds);
        Assert.Equal([1, 3], set.Sequences.SelectMany(ExamplesIn).Select(x => x.K).Order());
        Assert.Equal(2, set.Report.Lengths.Documents);
        // Exactly the row length fits.
        Assert.Single(FineTuneSequenceBuilder.Build([Example(5, 7, 7)], Options(16)).Sequences);
    }

    [Fact]
    public void The_layout_depends_only_on_the_seed_and_every_example_is_placed_once()
    {
        var rng = new Random(3);
        var examples = Enumerable.Range(1, 60).Select(k => Example(k, rng.Next(0, 20), 1 + rng.Next(0, 30))).ToArray();
        FineTuneSet Run(ulong seed) => FineTuneSequenceBuilder.Build(examples, new FineTuneSequenceOptions { SeqLen = 64, Seed = seed });
        var a = Run(5);
        var b = Run(5);
        var c = Run(6);
        Assert.Equal(a.Sequences.Select(s => s.Inputs), b.Sequences.Select(s => s.Inputs));
        Assert.Equal(a.Sequences.Select(s => s.Segments), b.Sequences.Select(s => s.Segments));
        Assert.Equal(a.Report.ToJson(), b.Report.ToJson());
        Assert.NotEqual(a.Sequences.Select(s => s.Inputs[0]), c.Sequences.Select(s => s.Inputs[0]));
        foreach (var set in new[] { a, c })
        {
            var placed = set.Sequences.SelectMany(ExamplesIn).ToList();
            Assert.Equal(Enumerable.Range(1, 60), placed.Select(x => x.K).Order());
            foreach (var (row, (k, start, length)) in set.Sequences.SelectMany(r => ExamplesIn(r).Select(x => (r, x))))
            {
                Assert.Equal(examples[k - 1].Tokens, row.Inputs[start..(start + length)]);
                Assert.Single(row.Segments[start..(start + length)].Distinct());
                Assert.Equal(Ignore, row.Targets[start + length - 1]);
            }
            Assert.Equal(examples.Sum(e => e.Length), set.Report.Tokens);
            Assert.Equal(set.Sequences.Sum(s => s.Targets.Count(t => t != Ignore)), set.Report.LossTokenCount);
            Assert.Equal(set.Sequences.Sum(s => s.Segments.Count(x => x == Pad)), set.Report.PaddingTokens);
        }
        // Shuffled: not in input order.
        Assert.NotEqual(Enumerable.Range(1, 60), a.Sequences.SelectMany(ExamplesIn).Select(x => x.K));
    }

    [Fact]
    public void The_report_round_trips_through_json()
    {
        var set = FineTuneSequenceBuilder.Build([Example(1, 3, 3), Example(2, 40, 40)],
            Options(64) with { Loss = LossTokens.AnswersAndInput, DropTooLong = true });
        var json = set.Report.ToJson();
        Assert.Contains("\"loss\": \"AnswersAndInput\"", json);
        var back = FineTuneReport.FromJson(json);
        Assert.Equal(json, back.ToJson());
        Assert.Equal(set.Report.Lengths.Histogram, back.Lengths.Histogram);
        Assert.Equal(8, back.Lengths.Max);
    }

    [Fact]
    public void The_pad_id_is_the_vocabularys_pad_else_eos_else_0()
    {
        var v = new TokenVocabulary { Pieces = ["<unk>", "<s>", "</s>", "<pad>"], Scores = new float[4], Types = new TokenType[4] };
        Assert.Equal(3, FineTuneSequenceOptions.PadIdFor(v with { PadId = 3 }));
        Assert.Equal(2, FineTuneSequenceOptions.PadIdFor(v));
        Assert.Equal(0, FineTuneSequenceOptions.PadIdFor(v with { EosId = -1 }));
    }

    [Fact]
    public void Bad_options_and_examples_are_argument_errors()
    {
        Assert.Throws<ArgumentException>(() => FineTuneSequenceBuilder.Build([Example(1, 1, 1)], Options(1)));
        Assert.Throws<ArgumentException>(() => FineTuneSequenceBuilder.Build([Example(1, 1, 1)], Options(8) with { PackThreshold = -1 }));
        Assert.Throws<ArgumentException>(() => FineTuneSequenceBuilder.Build([new LabeledExample("x:1", [1, 2], [TokenRole.User])], Options(8)));
    }
}
