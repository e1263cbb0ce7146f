using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Tests.Model;

/// <summary>Tiny models over Phi-3's real vocabulary and chat template, for chat, client and server tests.</summary>
public static class ScriptedModels
{
    /// <summary>Phi-3's tokenizer (SentencePiece with &lt;|user|&gt;, &lt;|end|&gt;… and a chat template).</summary>
    public static ITokenizer Phi3() => TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));

    /// <summary>A small Llama config with Phi-3's vocabulary size and special ids.</summary>
    public static LlamaConfig Config(int vocab, int context = 512) => new()
    {
        HiddenSize = 16, IntermediateSize = 32, NumLayers = 2, NumHeads = 2, NumKvHeads = 1, VocabSize = vocab,
        MaxPositionEmbeddings = context, BosTokenId = 1, EosTokenId = 32000,
    };

    /// <summary>Random weights (norms 1): different prompts give different greedy continuations.</summary>
    public static LlamaModel Random(LlamaConfig c, int seed)
    {
        var rng = new Random(seed);
        var weights = LlamaWeights.FromFloats(c, spec =>
        {
            var a = new float[spec.ElementCount];
            bool norm = spec.Role is TensorRole.AttnNorm or TensorRole.FfnNorm or TensorRole.FinalNorm;
            for (long i = 0; i < a.Length; i++) a[i] = norm ? 1f : (float)(rng.NextDouble() * 2 - 1);
            return a;
        });
        return new LlamaModel { Config = c, Weights = weights, Source = "random" };
    }

    /// <summary>Every position predicts <paramref name="token"/>: constant embeddings, silent layers, one output row.</summary>
    public static LlamaModel Scripted(LlamaConfig c, int token)
    {
        var weights = LlamaWeights.FromFloats(c, spec =>
        {
            var a = new float[spec.ElementCount];
            switch (spec.Role)
            {
                case TensorRole.TokenEmbedding or TensorRole.AttnNorm or TensorRole.FfnNorm or TensorRole.FinalNorm:
                    Array.Fill(a, 1f);
                    break;
                case TensorRole.Output:
                    a.AsSpan(token * c.HiddenSize, c.HiddenSize).Fill(1f);
                    break;
            }
            return a;
        });
        return new LlamaModel { Config = c with { TieWordEmbeddings = false }, Weights = weights, Source = "scripted" };
    }
}
