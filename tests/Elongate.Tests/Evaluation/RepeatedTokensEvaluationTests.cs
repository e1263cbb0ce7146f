using System.Globalization;
using Elongate.Evaluation;
using Elongate.Model;
using Elongate.Tests.Evaluation.Tasks;
using Elongate.Tokenization;

namespace Elongate.Tests.Evaluation;

/// <summary>The repeated-random-tokens copy test: its windows, its pool, and its scores against an independent recomputation.</summary>
public sealed class RepeatedTokensEvaluationTests
{
    [SkippableFact]
    public void Windows_repeat_normal_pieces_and_a_trial_keeps_its_tokens_across_lengths()
    {
        var tok = TaskModelFixtures.Tok512();
        var pool = RepeatedTokensEvaluation.Pool(tok.Vocabulary);
        // tok512: 3 control/unknown ids and 256 byte pieces are left out.
        Assert.All(pool, id => Assert.Equal(TokenType.Normal, tok.Vocabulary.Types[id]));
        Assert.Equal(tok.Vocabulary.Types.Count(t => t == TokenType.Normal), pool.Length);
        Assert.DoesNotContain(tok.Vocabulary.BosId, pool);

        var w = RepeatedTokensEvaluation.Window(pool, 1, seed: 3, trial: 2, length: 256);
        Assert.Equal(255, w.Length); // BOS + 2 × 127
        Assert.Equal(1, w[0]);
        Assert.Equal(w[1..128], w[128..]);
        // 127 draws with replacement from 253 pieces give about 100 distinct ones (253 · (1 − e^(−127/253))).
        Assert.InRange(w[1..128].Distinct().Count(), 85, 115);
        var longer = RepeatedTokensEvaluation.Window(pool, 1, seed: 3, trial: 2, length: 512);
        Assert.Equal(w[1..128], longer[1..128]);
        Assert.NotEqual(w, RepeatedTokensEvaluation.Window(pool, 1, seed: 3, trial: 3, length: 256));
        Assert.NotEqual(w, RepeatedTokensEvaluation.Window(pool, 1, seed: 4, trial: 2, length: 256));
    }

    /// <summary>
    /// Accuracy and both losses recomputed from a per-token decode (Forward one token at a time, textbook log-softmax):
    /// an off-by-one in which logits score which target would change them. Tolerance 1e-4 nats: the two paths differ
    /// only in float summation order.
    /// </summary>
    [SkippableFact]
    public void Scores_match_an_independent_token_by_token_recomputation()
    {
        var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        var report = RepeatedTokensEvaluation.Evaluate(model, tok, new RepeatedTokensOptions { Lengths = [33, 64], Trials = 2, Seed = 9 });
        Assert.Equal("repeated-tokens", report.Task);
        Assert.Equal([33, 64], report.Cells.Select(c => c.Length));
        var pool = RepeatedTokensEvaluation.Pool(tok.Vocabulary);
        foreach (var cell in report.Cells)
            foreach (var trial in cell.Trials)
            {
                var w = RepeatedTokensEvaluation.Window(pool, tok.Vocabulary.BosId, 9, trial.Trial, cell.Length);
                int n = (w.Length - 1) / 2;
                var session = new InferenceSession(model, w.Length);
                double first = 0, second = 0;
                int hits = 0;
                for (int p = 0; p < w.Length - 1; p++)
                {
                    var row = session.Forward(w[p]);
                    double max = row.Max(), loss = Math.Log(row.Sum(l => Math.Exp(l - max))) + max - row[w[p + 1]];
                    if (p >= 1 && p < n) first += loss;
                    if (p > n) { second += loss; if (row[w[p + 1]] == row.Max()) hits++; }
                }
                Assert.Equal(hits / (double)(n - 1), trial.Score, 1e-12);
                var losses = trial.Generated.Split(':')[0]["loss ".Length..].Split(" → ").Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray();
                Assert.Equal(first / (n - 1), losses[0], 1e-3); // printed with 3 decimals
                Assert.Equal(second / (n - 1), losses[1], 1e-3);
                Assert.Equal(w.Length, trial.PromptTokens);
            }
        Assert.Throws<ArgumentException>(() => RepeatedTokensEvaluation.Evaluate(model, tok, new RepeatedTokensOptions { Lengths = [5] }));
        Assert.Throws<ArgumentException>(() => RepeatedTokensEvaluation.Evaluate(model, tok, new RepeatedTokensOptions { Lengths = [64], Trials = 0 }));
    }
}
