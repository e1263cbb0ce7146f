using System.Text.Json.Nodes;
using Elongate.Model;
using Elongate.Serving;

namespace Elongate.Tests.Serving;

/// <summary>/v1/completions with echo and logprobs (OpenAI's legacy shape), checked against the model's own logits.</summary>
[Collection(ServingCollection.Name)]
public class CompletionLogProbsTests
{
    /// <summary>log softmax(row)[id] the textbook way, in double with the maximum subtracted.</summary>
    private static double LogProb(float[] row, int id)
    {
        double max = row.Max();
        return row[id] - max - Math.Log(row.Sum(l => Math.Exp(l - max)));
    }

    [SkippableFact]
    public async Task Echo_with_zero_max_tokens_scores_every_prompt_token()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { ContextLength = 256 });
        const string prompt = "The quick brown fox jumps over the lazy dog";
        var ids = kit.Host.TokenizePrompt(prompt);
        var (status, body, text) = await kit.PostAsync("/v1/completions",
            $$"""{"prompt":"{{prompt}}","max_tokens":0,"echo":true,"logprobs":3,"temperature":0}""");
        Assert.True(status == 200, text);
        var choice = body!["choices"]![0]!;
        Assert.Equal(prompt, (string?)choice["text"]);
        Assert.Equal("length", (string?)choice["finish_reason"]);
        Assert.Equal(ids.Length, (int)body["usage"]!["prompt_tokens"]!);
        Assert.Equal(0, (int)body["usage"]!["completion_tokens"]!);
        var lp = choice["logprobs"]!;
        var tokens = lp["tokens"]!.AsArray();
        var values = lp["token_logprobs"]!.AsArray();
        var tops = lp["top_logprobs"]!.AsArray();
        var offsets = lp["text_offset"]!.AsArray().Select(o => (int)o!).ToArray();
        Assert.Equal(ids.Length, tokens.Count);
        Assert.Equal(ids.Length, values.Count);
        Assert.Equal(ids.Length, tops.Count);
        Assert.Equal(ids.Length, offsets.Length);
        // Nothing predicts the first token (BOS here), as OpenAI returns it.
        Assert.Null(values[0]);
        Assert.Null(tops[0]);
        Assert.Equal("<s>", (string?)tokens[0]);

        var oracle = new InferenceSession(kit.Model, 256).ForwardAll(ids.AsSpan(0, ids.Length - 1));
        for (int i = 1; i < ids.Length; i++)
        {
            double expected = LogProb(oracle[i - 1], ids[i]);
            // The same session shape and one batch: the same logits, so the same doubles (written round-trippable).
            Assert.Equal(expected, (double)values[i]!, 12);
            var top = tops[i]!.AsObject();
            Assert.Equal(3, top.Count);
            var best = top.Select(kv => (double)kv.Value!).ToArray();
            Assert.Equal(best.OrderDescending(), best);
            Assert.Equal(LogProb(oracle[i - 1], Sampler.ArgMax(oracle[i - 1])), best[0], 12);
            Assert.True(best[0] >= (double)values[i]!);
        }
        // Offsets locate each token's text in the echoed prompt: "▁quick" starts at the space before "quick".
        Assert.Equal(offsets.Order(), offsets);
        int quick = Array.FindIndex(tokens.Select(t => (string?)t).ToArray(), t => t == " quick");
        Assert.True(quick > 0);
        Assert.Equal(prompt.IndexOf(" quick", StringComparison.Ordinal), offsets[quick]);
    }

    [SkippableFact]
    public async Task Logprobs_of_generated_tokens_and_echo_with_generation()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { ContextLength = 256 });
        var ids = kit.Host.TokenizePrompt("Tell me a story");
        string greedy = kit.Greedy(ids, 6);
        var (status, body, text) = await kit.PostAsync("/v1/completions", """{"prompt":"Tell me a story","max_tokens":6,"logprobs":1,"temperature":0}""");
        Assert.True(status == 200, text);
        var choice = body!["choices"]![0]!;
        Assert.Equal(greedy, (string?)choice["text"]);
        var values = choice["logprobs"]!["token_logprobs"]!.AsArray();
        var tops = choice["logprobs"]!["top_logprobs"]!.AsArray();
        Assert.Equal((int)body["usage"]!["completion_tokens"]!, values.Count);
        Assert.True(values.Count > 0);
        for (int i = 0; i < values.Count; i++)
        {
            // Greedy decoding picked the argmax, so each token's log-probability is its position's best.
            Assert.True((double)values[i]! < 0);
            Assert.Equal((double)values[i]!, (double)tops[i]!.AsObject().Single().Value!, 12);
        }
        Assert.Equal(0, (int)choice["logprobs"]!["text_offset"]![0]!);

        (status, body, text) = await kit.PostAsync("/v1/completions", """{"prompt":"Tell me a story","max_tokens":6,"echo":true,"logprobs":0,"temperature":0}""");
        Assert.True(status == 200, text);
        choice = body!["choices"]![0]!;
        Assert.Equal("Tell me a story" + greedy, (string?)choice["text"]);
        var echoed = choice["logprobs"]!["token_logprobs"]!.AsArray();
        Assert.Equal(ids.Length + values.Count, echoed.Count);
        // The echo recomputes from position 0 in one batch, the generated-only pass from the prompt's last token: the
        // batch shapes differ, so the GEMM's summation order may too (measured 1.2e-6 here).
        for (int i = 0; i < values.Count; i++) Assert.Equal((double)values[i]!, (double)echoed[ids.Length + i]!, 1e-5);
        Assert.Empty(choice["logprobs"]!["top_logprobs"]![1]!.AsObject());

        // Echo without logprobs: the text only; and a prompt given as token ids is echoed decoded.
        (status, body, _) = await kit.PostAsync("/v1/completions", $$"""{"prompt":[{{string.Join(',', ids)}}],"max_tokens":0,"echo":true}""");
        Assert.Equal(200, status);
        Assert.Equal("Tell me a story", (string?)body!["choices"]![0]!["text"]);
        Assert.Null(body["choices"]![0]!["logprobs"]);
    }
}
