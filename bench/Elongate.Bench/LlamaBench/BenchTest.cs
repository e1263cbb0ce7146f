namespace Elongate.Bench.LlamaBench;

/// <summary>
/// One llama-bench test: "pp" evaluates <see cref="Tokens"/> prompt tokens in as few calls as the batch allows; "tg"
/// feeds a 1-token prompt, then times <see cref="Tokens"/> single-token steps. Both start after an untimed prompt of
/// <see cref="Depth"/> tokens already in the cache.
/// </summary>
internal sealed record BenchTest(string Kind, int Tokens, int Depth)
{
    public bool IsPrompt => Kind == "pp";

    /// <summary>pp512, tg128, tg128@d4096: llama-bench's names.</summary>
    public string Name => $"{Kind}{Tokens}" + (Depth > 0 ? $"@d{Depth}" : "");

    /// <summary>Positions the test fills: the depth, the timed tokens and, for tg, the 1-token prompt.</summary>
    public int Positions => Depth + Tokens + (IsPrompt ? 0 : 1);

    /// <summary>Cache size both engines allocate: the positions rounded up to 256 (llama.cpp pads n_ctx to 256 itself).</summary>
    public int Context => (Positions + 255) / 256 * 256;

    /// <summary>
    /// Tokens per forward call when not given: a whole prompt of up to 4,096 tokens in one call (llama-bench's n_batch =
    /// n_ubatch = prompt), longer prompts in calls of 512 and tg tests with a batch of 512 (llama.cpp's default n_ubatch), so a
    /// 32,768-token prompt needs no 32k-row activation buffers. The depth fill goes in calls of the same size.
    /// </summary>
    public int DefaultBatch => IsPrompt && Tokens <= 4096 ? Tokens : 512;
}
