namespace Elongate.Bench.LlamaBench;

/// <summary>What the benchmark asks of an engine: forget the cache, evaluate a prompt, evaluate one more token.</summary>
internal interface IBenchEngine : IDisposable
{
    /// <summary>Which build ran (for llama.cpp the native library LLamaSharp loaded).</summary>
    string Description { get; }

    /// <summary>Tokens in the model's vocabulary.</summary>
    int VocabSize { get; }

    /// <summary>Empties the key/value cache.</summary>
    void Clear();

    /// <summary>Appends <paramref name="tokens"/> at positions <paramref name="position"/>… (in calls of the batch size); logits of the last only.</summary>
    void Prompt(ReadOnlySpan<int> tokens, int position);

    /// <summary>Appends one token at <paramref name="position"/> and computes its logits.</summary>
    void Step(int token, int position);
}
