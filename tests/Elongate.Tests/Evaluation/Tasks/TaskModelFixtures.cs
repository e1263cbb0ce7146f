using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Tests.Evaluation.Tasks;

/// <summary>The real model the task-model tests run (stories260K with its tokenizer) and an independent scorer.</summary>
internal static class TaskModelFixtures
{
    public static LlamaModel Stories() => Llama2cCheckpoint.Read(Fixtures.Path("models/stories260K.bin"));

    public static ITokenizer Tok512() => TokenizerLoader.Load(Fixtures.Path("models/tok512.bin"), 512);

    /// <summary>
    /// Σ log p(token) over the last <paramref name="continuation"/> tokens of <paramref name="tokens"/>, from one
    /// ForwardAll over the whole sequence in a fresh session and a textbook log-softmax (double, max subtracted),
    /// with whether each token was the argmax: no code of the scorer under test is involved.
    /// </summary>
    public static (double LogLikelihood, bool Greedy) Oracle(LlamaModel model, int[] tokens, int continuation)
    {
        var session = new InferenceSession(model, tokens.Length);
        var logits = session.ForwardAll(tokens.AsSpan(0, tokens.Length - 1));
        double sum = 0;
        bool greedy = true;
        for (int i = tokens.Length - continuation; i < tokens.Length; i++)
        {
            var row = logits[i - 1];
            double max = row.Max();
            double z = row.Sum(l => Math.Exp(l - max));
            sum += row[tokens[i]] - max - Math.Log(z);
            greedy &= row[tokens[i]] == row.Max();
        }
        return (sum, greedy);
    }

    /// <summary>lm-evaluation-harness's input written out by hand: BOS, the context's tokens, then (context + continuation)'s tokens past them.</summary>
    public static (int[] Tokens, int Continuation) LmEvalInput(ITokenizer tok, string context, string continuation)
    {
        var ctx = tok.Encode(context, false, false);
        var whole = tok.Encode(context + continuation, false, false);
        var cont = whole[ctx.Length..];
        return ([1, .. ctx, .. cont], cont.Length);
    }
}
