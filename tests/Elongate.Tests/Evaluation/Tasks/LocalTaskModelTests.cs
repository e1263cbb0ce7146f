using Elongate.Common;
using Elongate.Evaluation.Tasks;
using Elongate.Model;
using Elongate.Tokenization;
using Xunit.Abstractions;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>LocalTaskModel on stories260K: scores against an independent computation, greedy generation, truncation.</summary>
public class LocalTaskModelTests(ITestOutputHelper output)
{
    // Same model, but the scorer batches [BOS + context] and the continuation separately where the oracle runs one
    // batch: the GEMM's summation order may differ in the last bits (GoldenGenerationTests allows 1e-4 per logit).
    private const double Tolerance = 1e-4;

    [SkippableFact]
    public async Task Scores_match_an_independent_forward_pass_and_log_softmax()
    {
        using var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        using var local = new LocalTaskModel(model, tok);
        string context = "Once upon a time, there was a little girl named Lily. She loved to play";
        string[] options = [" outside in the park.", " with her toys.", " banana helicopter sky.", "."];
        var scores = await local.ScoreAsync(context, options);
        double worst = 0;
        for (int i = 0; i < options.Length; i++)
        {
            var (tokens, n) = TaskModelFixtures.LmEvalInput(tok, context, options[i]);
            var (expected, _) = TaskModelFixtures.Oracle(model, tokens, n);
            Assert.Equal(n, scores[i].Tokens);
            Assert.True(Math.Abs(expected - scores[i].LogLikelihood) <= Tolerance, $"option {i}: {scores[i].LogLikelihood} vs oracle {expected}");
            worst = Math.Max(worst, Math.Abs(expected - scores[i].LogLikelihood));
        }
        output.WriteLine($"largest |local − oracle| = {worst:E2}");
        // The story-like continuation is far more probable than word salad: the scores mean something.
        Assert.True(scores[0].LogLikelihood > scores[2].LogLikelihood + 5);

        // Scoring each continuation in its own call (no shared-context reuse) gives the same numbers exactly.
        for (int i = 0; i < options.Length; i++)
            Assert.Equal(scores[i], (await local.ScoreAsync(context, [options[i]]))[0]);
    }

    [SkippableFact]
    public async Task Trailing_whitespace_of_the_context_is_scored_with_the_continuation()
    {
        using var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        using var local = new LocalTaskModel(model, tok);
        var moved = (await local.ScoreAsync("Lily went to the ", ["park"]))[0];
        var plain = (await local.ScoreAsync("Lily went to the", [" park"]))[0];
        Assert.Equal(plain, moved);

        // Without the move, the context would end in a lone space token and "park" would be scored after it.
        var naiveContext = tok.Encode("Lily went to the ", false, false);
        var naiveWhole = tok.Encode("Lily went to the park", false, false);
        Assert.NotEqual(naiveContext, naiveWhole[..naiveContext.Length]); // the tokenizer merges the space into "▁park"
        int[] naive = [1, .. naiveContext, .. tok.Encode("park", false, false)];
        var (naiveScore, _) = TaskModelFixtures.Oracle(model, naive, naive.Length - 1 - naiveContext.Length);
        output.WriteLine($"moved: {moved.LogLikelihood:F4} over {moved.Tokens} tokens; naive split: {naiveScore:F4}");
        Assert.True(Math.Abs(naiveScore - moved.LogLikelihood) > 0.1, "the move must change the score on this tokenizer");
    }

    [SkippableFact]
    public async Task The_models_own_greedy_continuation_is_greedy_and_another_is_not()
    {
        using var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        using var local = new LocalTaskModel(model, tok);
        string context = "Once upon a time, there was a little dog named Max.";
        var generation = await local.GenerateAsync(new TaskGenerationRequest(context, 12, ["\n"]));
        output.WriteLine($"greedy: '{generation.Text}' ({generation.GeneratedTokens} tokens)");
        Assert.True(generation.GeneratedTokens > 3);
        Assert.Equal(tok.Encode(context).Length, generation.PromptTokens);
        // Precondition for the claim: re-encoding the text gives back the generated tokens.
        var (tokens, n) = TaskModelFixtures.LmEvalInput(tok, context, generation.Text);
        var session = new InferenceSession(model);
        var ids = new List<int>();
        TextGenerator.Generate(session, tok.Encode(context), n, new Sampler(SamplingOptions.Greedy), ids.Add);
        Assert.Equal(ids, tokens[^n..]);

        var scores = await local.ScoreAsync(context, [generation.Text, " The cat was blue and purple."]);
        Assert.True(scores[0].IsGreedy);
        Assert.False(scores[1].IsGreedy);
        Assert.True(TaskModelFixtures.Oracle(model, tokens, n).Greedy);
    }

    [SkippableFact]
    public async Task Long_inputs_keep_their_last_context_length_tokens()
    {
        using var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        using var local = new LocalTaskModel(model, tok, contextLength: 48);
        Assert.Equal(48, local.ContextLength);
        string context = string.Concat(Enumerable.Repeat("Tom and Sue played with a red ball in the garden. ", 6)) + "Then they";
        var (tokens, n) = TaskModelFixtures.LmEvalInput(tok, context, " went home.");
        Assert.True(tokens.Length > 48);
        var score = (await local.ScoreAsync(context, [" went home."]))[0];
        var (expected, _) = TaskModelFixtures.Oracle(model, tokens[^48..], n);
        Assert.Equal(n, score.Tokens);
        Assert.True(Math.Abs(expected - score.LogLikelihood) <= Tolerance, $"{score.LogLikelihood} vs {expected}");
        // Not the untruncated score: the cut is real.
        Assert.NotEqual(TaskModelFixtures.Oracle(model, tokens, n).LogLikelihood, score.LogLikelihood, 6);
    }

    [SkippableFact]
    public async Task Generation_stops_at_stop_strings_and_refuses_what_does_not_fit()
    {
        using var model = TaskModelFixtures.Stories();
        var tok = TaskModelFixtures.Tok512();
        using var local = new LocalTaskModel(model, tok, contextLength: 64, template: ChatTemplate.FromName("llama2"));
        var free = await local.GenerateAsync(new TaskGenerationRequest("Once upon a time", 30, []));
        int cut = free.Text.IndexOf('.', StringComparison.Ordinal);
        Assert.True(cut > 0, free.Text);
        var stopped = await local.GenerateAsync(new TaskGenerationRequest("Once upon a time", 30, ["."]));
        Assert.Equal(free.Text[..cut], stopped.Text);
        Assert.Throws<InvalidOperationException>(() => new LocalTaskModel(model, tok).PromptTokens(new TaskGenerationRequest("x", 4, [], Chat: true)));
        await Assert.ThrowsAsync<ContextOverflowException>(() => local.GenerateAsync(new TaskGenerationRequest("Once upon a time", 60, [])));
        var chat = local.PromptTokens(new TaskGenerationRequest("Hi", 4, [], Chat: true));
        Assert.Equal(PromptEncoding.Encode(tok, ChatTemplate.FromName("llama2").Apply([new ChatTurn("user", "Hi")], addAssistantPrompt: true)), chat);
    }
}
