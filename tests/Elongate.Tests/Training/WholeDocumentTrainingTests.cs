using Elongate.Common;
using Elongate.Data;
using Elongate.Training;

namespace Elongate.Tests.Training;

/// <summary>A whole-document source: padded sequences get no loss, and a trainer learns from it as from any source.</summary>
public sealed class WholeDocumentTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"elongate-whole-{Guid.NewGuid():N}");

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    [Fact]
    public void Padding_targets_are_ignored_and_real_targets_are_the_next_tokens()
    {
        var data = Path.Combine(_dir, "data");
        TrainingTestData.Prepare(_dir, data, documents: 12, words: 10, validation: 0);
        const int T = 1024, B = 2;
        var options = new TrainerOptions { Sources = [new TrainingSource("data", data, WholeDocuments: true)], SeqLen = T, TokensPerStep = T * B, BatchSize = B, Steps = 1 };
        using var training = new TrainingData(options);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var segments = new int[B * T];
        int ignored = 0, windows = 0;
        for (int step = 0; step < 10; step++)
        {
            training.NextBatch(B, inputs, targets, segments);
            for (int b = 0; b < B; b++, windows++)
            {
                var tg = targets.AsSpan(b * T, T);
                var inp = inputs.AsSpan(b * T, T);
                int firstIgnored = tg.IndexOf(CrossEntropy.DefaultIgnoreIndex);
                if (firstIgnored < 0) firstIgnored = T;
                // Ignored targets form one run at the end of the window.
                for (int t = firstIgnored; t < T; t++) Assert.Equal(CrossEntropy.DefaultIgnoreIndex, tg[t]);
                // Every kept target is the next input (a packed stream shifted by one), and no document is cut:
                // a window that ends in padding ends its last document there.
                for (int t = 0; t + 1 < firstIgnored; t++) Assert.Equal(inp[t + 1], tg[t]);
                ignored += T - firstIgnored;
            }
        }
        Assert.True(ignored > 0, "documents of 700–950 tokens in windows of 1,024 must leave some windows padded");
        Assert.True(ignored < windows * T / 2, $"{ignored} of {windows * T} targets ignored: padding should be the exception");
    }
}

/// <summary>Answers-only retrieval sources: the loss tail of each document is its answer, and only it is trained.</summary>
public sealed class AnswersOnlyTrainingTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"elongate-answers-{Guid.NewGuid():N}");

    public void Dispose() { if (Directory.Exists(_dir)) Directory.Delete(_dir, true); }

    [Fact]
    public void Only_the_answers_and_their_eos_carry_loss()
    {
        var tokPath = TrainingTestData.WriteTokenizer(Path.Combine(_dir, "tok"));
        var tokenizer = Elongate.Formats.TokenizerLoader.Load(tokPath);
        var sentences = RetrievalDocuments.SentencesFrom(string.Join(" ", Enumerable.Range(0, 40).Select(i => TrainingTestData.Document(i, 60))));
        var generator = new RetrievalDocuments(sentences, new RetrievalDocumentOptions { Seed = 3, MaxLength = 200 }, tokenizer);
        var prepared = Path.Combine(_dir, "retrieval");
        Elongate.Experiments.ExperimentCorpus.WriteRetrievalSource(generator, 60, prepared, tokPath, tokenizer, seed: 1);
        var docs = generator.Documents(0, 60).ToList();

        // Each tail is the answer (and what follows it: "." for passkeys and lookups) plus EOS.
        using (var shard = TokenShard.Open(Path.Combine(prepared, CorpusPreparer.TrainFile)))
        {
            var tails = LossTails.Read(prepared, shard);
            for (int i = 0; i < docs.Count; i++)
            {
                var ids = shard.ReadDocument(i);
                var tail = tokenizer.Decode(ids[^tails[i]..^1]).Trim();
                Assert.StartsWith(docs[i].Answer, tail);
                Assert.True(tail.Length <= docs[i].Answer.Length + 1, $"{docs[i].Kind}: tail '{tail}' for answer '{docs[i].Answer}'");
            }
        }

        // Through the trainer's data: every kept target lies in an answer tail; windows hold whole documents.
        const int T = 512, B = 4;
        var options = new TrainerOptions { Sources = [new TrainingSource("r", prepared, WholeDocuments: true, AnswersOnly: true)], SeqLen = T, TokensPerStep = T * B, BatchSize = B, Steps = 1 };
        using var data = new TrainingData(options);
        var inputs = new int[B * T];
        var targets = new int[B * T];
        var segments = new int[B * T];
        var answers = docs.Select(d => d.Answer).ToHashSet();
        int kept = 0, runs = 0;
        for (int step = 0; step < 5; step++)
        {
            data.NextBatch(B, inputs, targets, segments);
            for (int t = 0; t < B * T;)
            {
                if (targets[t] == CrossEntropy.DefaultIgnoreIndex) { t++; continue; }
                int end = t;
                while (end < B * T && targets[end] != CrossEntropy.DefaultIgnoreIndex && (end == t || end % T != 0)) end++;
                var run = targets[t..end];
                kept += run.Length;
                runs++;
                Assert.Equal(2, run[^1]); // the run ends with the document's EOS
                var text = tokenizer.Decode(run[..^1]).Trim();
                Assert.True(answers.Contains(text) || answers.Contains(text.TrimEnd('.')), $"'{text}' is no document's answer");
                t = end;
            }
        }
        Assert.True(runs > 10, $"{runs} answers in 20 windows");
        Assert.True(kept < B * T * 5 / 3, $"{kept} targets kept: the filler must carry no loss");
    }

    [Fact]
    public void A_missing_or_mismatched_tail_file_is_an_error_naming_it()
    {
        var data = Path.Combine(_dir, "data");
        TrainingTestData.Prepare(_dir, data, documents: 4, validation: 0);
        var options = new TrainerOptions { Sources = [new TrainingSource("d", data, AnswersOnly: true)], SeqLen = 64, TokensPerStep = 64, Steps = 1 };
        var e = Assert.Throws<ModelFormatException>(() => new TrainingData(options));
        Assert.Contains(LossTails.FileName, e.Message);
        LossTails.Write(data, [1, 2]);
        e = Assert.Throws<ModelFormatException>(() => new TrainingData(options));
        Assert.Matches("holds 2 tails for the [0-9]+ documents of", e.Message);
    }
}
