using System.Collections.Concurrent;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using LLama.Native;

namespace Elongate.Tests.Oracles;

/// <summary>
/// llama.cpp itself (the CPU build shipped in LLamaSharp.Backend.Cpu 0.30.0) as a test oracle: its logits, its greedy
/// continuation and its tokenizer, for comparison with Elongate's own.
/// </summary>
/// <remarks>
/// Choices made so that the oracle is deterministic and as exact as llama.cpp's CPU path allows:
/// <list type="bullet">
/// <item>one thread for both prompt and generation (ggml's multi-threaded reductions split work differently);</item>
/// <item>no sampling at all: the argmax is taken here, in C#, so no seed, penalty or sampler chain is involved;</item>
/// <item>the model is read into memory, not memory-mapped (<see cref="LLamaLoadMode.None"/>), so the read-only
/// fixtures folder and other processes cannot interfere;</item>
/// <item>the KV cache is F32 (llama.cpp's default is F16, which would round every cached K and V to 11 bits of
/// mantissa and make the oracle differ from an fp32 reference by ≈1e-3 relative for that reason alone);</item>
/// <item>flash attention is off: llama.cpp's CPU flash-attention kernel converts Q to F16, the plain path does not.</item>
/// </list>
/// What remains is llama.cpp's own arithmetic: with F16 weights its CPU matmul rounds the activations to F16 before
/// every projection. Against a float64 forward pass (LlamaCppOracleTests, llama-2-tiny-random) that costs 2.7e-4 of
/// the largest |logit| of a row on F16 files (bound used: 2e-3), and only 1.6e-7 on the same weights stored as F32
/// (bound used: 1e-5). An fp32 implementation should therefore be compared with llama.cpp at ~2e-3 relative on F16
/// GGUFs, or at ~1e-5 if it also rounds matmul inputs to F16 (measured 3.6e-8 then).
/// Each <see cref="Logits"/> and <see cref="GreedyContinuation"/> call starts from an empty KV cache, so calls are
/// independent of each other. An instance is not thread-safe; open one per test.
/// <see cref="OpenVocabulary"/> loads only a file's vocabulary (llama.cpp's vocab_only, as its test-tokenizer-0 does),
/// for tokenizer-only GGUFs such as models/ggml-vocab-*.gguf: such an oracle tokenizes but has no context.
/// </remarks>
public sealed unsafe class LlamaCppOracle : IDisposable
{
    private static readonly object InitLock = new();
    private static bool _initialized;
    private static readonly ConcurrentQueue<string> RecentProblems = new();
    private static readonly bool Verbose = Environment.GetEnvironmentVariable("ELONGATE_LLAMA_LOG") == "1";

    // llama_tokenize itself, called once per text. LLamaSharp's public SafeLlamaModelHandle.Tokenize calls it twice
    // (once to count, once to fill), which would halve llama.cpp's measured speed; null when the exports cannot be
    // found, and then that public method is used.
    private static delegate* unmanaged<IntPtr, IntPtr> s_modelGetVocab;
    private static delegate* unmanaged<IntPtr, byte*, int, int*, int, byte, byte, int> s_tokenize;

    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle? _context;
    private readonly LLamaBatch _batch = new();
    private bool _disposed;

    /// <summary>The GGUF file this oracle evaluates.</summary>
    public string ModelPath { get; }

    /// <summary>Vocabulary size as llama.cpp sees it (length of every logits row).</summary>
    public int VocabSize { get; }

    /// <summary>Hidden size (llama.cpp's n_embd).</summary>
    public int EmbeddingSize { get; }

    /// <summary>Number of transformer blocks.</summary>
    public int LayerCount { get; }

    /// <summary>
    /// Context size of the llama.cpp context (the requested size rounded up to a multiple of 256): the longest prompt
    /// plus continuation this oracle accepts. Batch and micro-batch sizes equal it, so a prompt is one graph evaluation.
    /// </summary>
    public int ContextSize { get; }

    /// <summary>Whether only the vocabulary was loaded (<see cref="OpenVocabulary"/>): tokenization only, no logits.</summary>
    public bool VocabularyOnly => _context is null;

    /// <summary>Whether <see cref="Tokenize"/> calls llama_tokenize directly (once per text) rather than through
    /// LLamaSharp's wrapper, which tokenizes every text twice.</summary>
    public static bool DirectTokenize => s_tokenize != null;

    /// <summary>BOS id from the GGUF, or -1 if it has none.</summary>
    public int BosId { get; }

    /// <summary>EOS id from the GGUF, or -1 if it has none.</summary>
    public int EosId { get; }

    /// <summary>Which native build LLamaSharp loaded (for example "avx512"), for test output and reports.</summary>
    public static string NativeLibraryDescription { get; private set; } = "not loaded";

    private LlamaCppOracle(string path, SafeLlamaModelHandle model, SafeLLamaContextHandle? context)
    {
        ModelPath = path;
        _model = model;
        _context = context;
        VocabSize = model.Vocab.Count;
        EmbeddingSize = model.EmbeddingSize;
        LayerCount = model.LayerCount;
        ContextSize = context is null ? 0 : checked((int)context.ContextSize);
        BosId = model.Vocab.BOS is { } bos ? (int)bos : -1;
        EosId = model.Vocab.EOS is { } eos ? (int)eos : -1;
    }

    /// <summary>
    /// Loads <paramref name="ggufPath"/> into llama.cpp with a context of at least <paramref name="contextSize"/>
    /// positions (rounded up to a multiple of 256, as llama.cpp pads it anyway; see <see cref="ContextSize"/>).
    /// Throws <see cref="InvalidOperationException"/> with llama.cpp's last warnings and errors when it refuses.
    /// </summary>
    /// <param name="ggufPath">The model file.</param>
    /// <param name="contextSize">Longest prompt plus continuation that will be evaluated.</param>
    /// <param name="llamaCppDefaults">
    /// false (the oracle setting): F32 KV cache and no flash attention. true: llama.cpp's own defaults (F16 KV cache,
    /// flash attention "auto"), to measure what a stock llama-cli run would give.
    /// </param>
    public static LlamaCppOracle Open(string ggufPath, int contextSize = 256, bool llamaCppDefaults = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(contextSize, 1 << 20);
        contextSize = (contextSize + 255) / 256 * 256;
        if (!File.Exists(ggufPath)) throw new FileNotFoundException("GGUF file not found", ggufPath);
        EnsureNativeLibrary();
        while (RecentProblems.TryDequeue(out _)) { }

        var modelParams = LLamaModelParams.Default();
        modelParams.n_gpu_layers = 0;
        modelParams.load_mode = LLamaLoadMode.None;
        modelParams.check_tensors = true;
        modelParams.vocab_only = false;

        SafeLlamaModelHandle model;
        try
        {
            model = SafeLlamaModelHandle.LoadFromFile(ggufPath, modelParams);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"llama.cpp could not load {ggufPath}: {e.Message}{ProblemsSuffix()}", e);
        }

        var ctxParams = LLamaContextParams.Default();
        ctxParams.n_ctx = (uint)contextSize;
        ctxParams.n_batch = (uint)contextSize;  // a whole prompt is one llama_decode call
        ctxParams.n_ubatch = (uint)contextSize; // ... and one graph evaluation, never split into micro-batches
        ctxParams.n_seq_max = 1;
        ctxParams.n_threads = 1;
        ctxParams.n_threads_batch = 1;
        if (!llamaCppDefaults)
        {
            ctxParams.type_k = GGMLType.GGML_TYPE_F32;
            ctxParams.type_v = GGMLType.GGML_TYPE_F32;
            ctxParams.llama_flash_attn_type = LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
        }
        ctxParams.embeddings = false;
        ctxParams.offload_kqv = false;
        ctxParams.op_offload = false;
        ctxParams.no_perf = true;

        try
        {
            var context = SafeLLamaContextHandle.Create(model, ctxParams);
            return new LlamaCppOracle(ggufPath, model, context);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            model.Dispose();
            throw new InvalidOperationException($"llama.cpp could not create a context for {ggufPath}: {e.Message}{ProblemsSuffix()}", e);
        }
    }

    /// <summary>
    /// Loads only the vocabulary of <paramref name="ggufPath"/> (llama.cpp's vocab_only: no hyperparameters beyond the
    /// name, no tensors, no context), so <see cref="Tokenize"/> works on tokenizer-only files of any architecture
    /// llama.cpp knows. <see cref="Logits"/> and <see cref="GreedyContinuation"/> throw on such an oracle.
    /// </summary>
    /// <remarks>
    /// All six models/ggml-vocab-*.gguf fixtures load this way (architectures gpt2, llama, falcon, starcoder2, phi3),
    /// as in llama.cpp's own test-tokenizer-0.
    /// </remarks>
    public static LlamaCppOracle OpenVocabulary(string ggufPath)
    {
        if (!File.Exists(ggufPath)) throw new FileNotFoundException("GGUF file not found", ggufPath);
        EnsureNativeLibrary();
        while (RecentProblems.TryDequeue(out _)) { }
        var modelParams = LLamaModelParams.Default();
        modelParams.n_gpu_layers = 0;
        modelParams.load_mode = LLamaLoadMode.None;
        modelParams.vocab_only = true;
        try
        {
            return new LlamaCppOracle(ggufPath, SafeLlamaModelHandle.LoadFromFile(ggufPath, modelParams), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new InvalidOperationException($"llama.cpp could not load the vocabulary of {ggufPath}: {e.Message}{ProblemsSuffix()}", e);
        }
    }

    /// <summary>
    /// Evaluates <paramref name="tokens"/> as ONE batch at positions 0..n-1 (causal attention, empty cache) and returns
    /// the logits of every position: result[i] is the next-token distribution after tokens[0..i].
    /// </summary>
    public float[][] Logits(ReadOnlySpan<int> tokens)
    {
        var context = RequireContext();
        CheckTokens(tokens, nameof(tokens));
        if (tokens.Length > ContextSize)
            throw new ArgumentException($"{tokens.Length} tokens exceed the oracle's context of {ContextSize}", nameof(tokens));

        context.MemoryClear(true);
        _batch.Clear();
        for (var i = 0; i < tokens.Length; i++) _batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
        Decode(context);

        var result = new float[tokens.Length][];
        for (var i = 0; i < tokens.Length; i++) result[i] = context.GetLogitsIth(i).ToArray();
        return result;
    }

    /// <summary>
    /// Greedy decoding: evaluates <paramref name="prompt"/>, then <paramref name="count"/> times appends the argmax of
    /// the last logits (lowest id on ties, as llama.cpp's greedy sampler) and feeds it back one token at a time.
    /// Returns only the new tokens. It does not stop at EOS; truncate at <see cref="EosId"/> if the comparison needs it.
    /// </summary>
    public int[] GreedyContinuation(ReadOnlySpan<int> prompt, int count)
    {
        var context = RequireContext();
        CheckTokens(prompt, nameof(prompt));
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (prompt.Length == 0) throw new ArgumentException("prompt must not be empty", nameof(prompt));
        if (prompt.Length + count > ContextSize)
            throw new ArgumentException($"{prompt.Length} + {count} tokens exceed the oracle's context of {ContextSize}");

        context.MemoryClear(true);
        _batch.Clear();
        for (var i = 0; i < prompt.Length; i++) _batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        Decode(context);

        var output = new int[count];
        for (var k = 0; k < count; k++)
        {
            // llama_get_logits_ith takes the index within the last batch; only its last entry requested logits.
            var next = ArgMax(context.GetLogitsIth(_batch.TokenCount - 1));
            output[k] = next;
            if (k == count - 1) break;
            _batch.Clear();
            _batch.Add(next, prompt.Length + k, LLamaSeqId.Zero, true);
            Decode(context);
        }
        return output;
    }

    /// <summary>
    /// llama.cpp's own tokenizer (llama_tokenize) on UTF-8 <paramref name="text"/>. By default special-token text such
    /// as "&lt;s&gt;" is NOT parsed as a control token (parse_special=false), as in llama.cpp's test-tokenizer-0;
    /// <paramref name="parseSpecial"/> turns it on. <paramref name="addBos"/> is llama.cpp's add_special (BOS, and EOS
    /// where the vocabulary asks for it).
    /// </summary>
    public int[] Tokenize(string text, bool addBos, bool parseSpecial = false)
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(text);
        if (text.Length == 0) return addBos && BosId >= 0 ? [BosId] : [];
        if (s_tokenize == null)
        {
            var tokens = _model.Tokenize(text, addBos, parseSpecial, Encoding.UTF8);
            var ids = new int[tokens.Length];
            for (var i = 0; i < tokens.Length; i++) ids[i] = (int)tokens[i];
            return ids;
        }
        var utf8 = Encoding.UTF8.GetBytes(text);
        // A token covers at least one byte; add_special adds at most two.
        var buffer = new int[utf8.Length + 2];
        int n = TokenizeUtf8(utf8, buffer, addBos, parseSpecial);
        return buffer.AsSpan(0, n).ToArray();
    }

    /// <summary>
    /// llama_tokenize on UTF-8 bytes into <paramref name="tokens"/>, called once (for timing without allocation);
    /// returns the count. <paramref name="tokens"/> must hold <c>utf8.Length + 2</c> ids, which always suffices.
    /// </summary>
    public int TokenizeUtf8(ReadOnlySpan<byte> utf8, Span<int> tokens, bool addBos, bool parseSpecial = false)
    {
        ThrowIfDisposed();
        if (tokens.Length < utf8.Length + 2) throw new ArgumentException($"needs room for {utf8.Length + 2} ids", nameof(tokens));
        if (s_tokenize == null)
        {
            var ids = Tokenize(Encoding.UTF8.GetString(utf8), addBos, parseSpecial);
            ids.CopyTo(tokens);
            return ids.Length;
        }
        bool added = false;
        try
        {
            _model.DangerousAddRef(ref added);
            var vocab = s_modelGetVocab(_model.DangerousGetHandle());
            fixed (byte* text = utf8)
            fixed (int* output = tokens)
            {
                int n = s_tokenize(vocab, text, utf8.Length, output, tokens.Length, addBos ? (byte)1 : (byte)0, parseSpecial ? (byte)1 : (byte)0);
                if (n < 0) throw new InvalidOperationException($"llama_tokenize returned {n} for {utf8.Length} bytes");
                return n;
            }
        }
        finally
        {
            if (added) _model.DangerousRelease();
        }
    }

    /// <summary>Index of the largest value; the first one on ties.</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty) throw new ArgumentException("no values", nameof(values));
        var best = 0;
        for (var i = 1; i < values.Length; i++)
            if (values[i] > values[best]) best = i;
        return best;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _context?.Dispose(); // the context holds a reference to the model handle; free it first
        _model.Dispose();
    }

    private SafeLLamaContextHandle RequireContext()
    {
        ThrowIfDisposed();
        return _context ?? throw new InvalidOperationException($"{ModelPath} was opened for its vocabulary only (OpenVocabulary): it has no context");
    }

    private void Decode(SafeLLamaContextHandle context)
    {
        var rc = context.Decode(_batch);
        if (rc != DecodeResult.Ok)
            throw new InvalidOperationException($"llama_decode returned {rc} ({(int)rc}) for {ModelPath}{ProblemsSuffix()}");
    }

    private void CheckTokens(ReadOnlySpan<int> tokens, string name)
    {
        foreach (var t in tokens)
            if ((uint)t >= (uint)VocabSize)
                throw new ArgumentOutOfRangeException(name, t, $"token id outside the vocabulary of {VocabSize}");
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static string ProblemsSuffix()
    {
        var lines = RecentProblems.ToArray();
        return lines.Length == 0 ? "" : Environment.NewLine + "llama.cpp said:" + Environment.NewLine + string.Join(Environment.NewLine, lines);
    }

    /// <summary>
    /// Configures LLamaSharp once per process: CPU only, log lines kept (warnings and errors, for exception messages)
    /// instead of printed, unless ELONGATE_LLAMA_LOG=1 asks for everything on stderr; ELONGATE_LLAMA_AVX selects
    /// the native build.
    /// </summary>
    internal static void EnsureNativeLibrary()
    {
        lock (InitLock)
        {
            if (_initialized) return;
            if (!NativeLibraryConfig.LLama.LibraryHasLoaded)
            {
                NativeLibraryConfig.All
                    .WithCuda(false)
                    .WithVulkan(false)
                    .WithAutoFallback(true)
                    .WithLogCallback(OnNativeLog);
                // LLamaSharp picks the best build the CPU supports (avx512 > avx2 > avx > noavx); this forces one, to
                // reproduce another machine's numbers or to get past a build that will not load here.
                var forced = Environment.GetEnvironmentVariable("ELONGATE_LLAMA_AVX");
                if (!string.IsNullOrEmpty(forced))
                    NativeLibraryConfig.All.WithAvx(forced.ToLowerInvariant() switch
                    {
                        "none" or "noavx" => AvxLevel.None,
                        "avx" => AvxLevel.Avx,
                        "avx2" => AvxLevel.Avx2,
                        "avx512" => AvxLevel.Avx512,
                        _ => throw new InvalidOperationException($"ELONGATE_LLAMA_AVX={forced}: expected noavx, avx, avx2 or avx512"),
                    });
            }
            else
            {
                NativeLogConfig.llama_log_set(OnNativeLog);
            }
            NativeApi.llama_empty_call(); // forces the load now, so a failure surfaces here with its reason
            var loaded = NativeApi.GetLoadedNativeLibrary(NativeLibraryName.LLama);
            NativeLibraryDescription = loaded?.Metadata?.ToString() ?? "unknown";
            ResolveTokenize();
            _initialized = true;
        }
    }

    /// <summary>
    /// Finds llama_model_get_vocab and llama_tokenize in the library LLamaSharp loaded. LLamaSharp keeps that handle in
    /// a private field (its own llama_tokenize binding is internal); if a later version renames it, the oracle falls
    /// back to the public two-pass wrapper, which gives the same ids.
    /// </summary>
    private static void ResolveTokenize()
    {
        var field = typeof(NativeApi).GetField("_loadedLlamaHandle", BindingFlags.NonPublic | BindingFlags.Static);
        if (field?.GetValue(null) is not IntPtr handle || handle == IntPtr.Zero) return;
        if (!NativeLibrary.TryGetExport(handle, "llama_model_get_vocab", out var getVocab)
            || !NativeLibrary.TryGetExport(handle, "llama_tokenize", out var tokenize)) return;
        s_modelGetVocab = (delegate* unmanaged<IntPtr, IntPtr>)getVocab;
        s_tokenize = (delegate* unmanaged<IntPtr, byte*, int, int*, int, byte, byte, int>)tokenize;
    }

    private static void OnNativeLog(LLamaLogLevel level, string message)
    {
        if (Verbose)
        {
            Console.Error.Write($"[llama.cpp {level}] {message}");
            return;
        }
        if (level is LLamaLogLevel.Warning or LLamaLogLevel.Error)
        {
            RecentProblems.Enqueue(message.TrimEnd());
            while (RecentProblems.Count > 20) RecentProblems.TryDequeue(out _);
        }
    }
}
