using System.Numerics.Tensors;
using Elongate.Common;
using Elongate.Kernels;
using Elongate.Rope;

namespace Elongate.Model;

/// <summary>
/// The fp32 reference forward pass of Llama 2 with a key/value cache: tokens are appended to the cache and the
/// logits of the newest one (or of every one) come back. A prompt is processed as a batch; generation feeds one
/// token at a time. Buffers are allocated once, for <see cref="BatchSize"/> tokens, not per call. Attention is the tiled
/// online-softmax kernel <see cref="FlashAttention.ForwardCached"/> for batches and single tokens alike: memory beyond the
/// cache is O(tile²) per thread, never n × (pos0 + n) scores, and a row's result does not depend on how rows are batched.
/// </summary>
/// <remarks>
/// RoPE comes from <see cref="RotaryEmbedding"/>. For the static types (default/ABF, linear, ntk, yarn, llama3, xpos)
/// keys are rotated once and cached rotated. For the length-dependent types (dynamic NTK, longrope) Elongate's causal
/// rule applies: the query at position p and every key it attends to use the frequencies for length p + 1, so keys
/// are cached unrotated and re-rotated whenever the frequency set changes. Position p's logits then depend only on
/// tokens 0..p, and a prompt processed at once gives the same logits as the same tokens fed one by one.
/// </remarks>
public sealed class InferenceSession
{
    private readonly LlamaModel _model;
    private readonly LlamaConfig _c;
    private readonly KvCache _cache;        // per layer, [context, kv_dim]; keys stored after RoPE (static types) or raw
    private readonly int _threads;
    private readonly float[][] _attnNorm, _ffnNorm; // per layer, [dim], converted once from any stored type
    private readonly float[] _finalNorm;
    private readonly RotaryEmbedding _rope;
    private readonly bool _lengthDependent;
    // Length-dependent RoPE only: keys rotated with the frequency set (_rotTable, _rotFreqLength), valid for
    // positions below _rotValid[layer].
    private readonly float[][]? _rotatedKeys;
    private readonly int[] _rotValid;
    private readonly RopeTable?[] _rotTable;
    private readonly int[] _rotFreqLength;

    // Activation buffers for up to BatchSize tokens.
    private readonly float[] _x, _xb, _q, _k, _v, _att, _xo, _hGate, _hUp, _logits, _lastLogits;

    /// <summary>Maximum number of positions the cache holds.</summary>
    public int ContextLength { get; }

    /// <summary>Tokens processed per batch when a prompt is longer.</summary>
    public int BatchSize { get; }

    /// <summary>Number of tokens already in the cache; the next token goes at this position.</summary>
    public int Position { get; private set; }

    public LlamaConfig Config => _c;

    /// <summary>Key rows per tile of the attention kernel; any positive value gives the same logits up to rounding.</summary>
    public int AttentionTileSize { get; init; } = FlashAttention.DefaultTileSize;

    /// <summary>
    /// Test hook: replaces the tiled attention kernel for (output, q, keys, values, rows, first position), so tests can
    /// compare it against a textbook oracle of their own on the session's real cache.
    /// </summary>
    internal AttentionRows? AttentionOracle { get; init; }

    /// <summary>Attention for <c>rows</c> query rows starting at absolute position <c>first</c> against a layer's keys and values.</summary>
    internal delegate void AttentionRows(Span<float> output, ReadOnlySpan<float> q, float[] keys, float[] values, int rows, int first);

    /// <summary>Storage type of the key/value cache.</summary>
    public KvCacheType CacheType => _cache.Type;

    /// <param name="model">The model to run.</param>
    /// <param name="contextLength">Cache size in positions; defaults to the model's trained context.</param>
    /// <param name="batchSize">Prompt tokens processed together (default: the model's <see cref="LlamaModel.Inference"/>).</param>
    /// <param name="options">Threads, cache type, batch size; defaults to the model's <see cref="LlamaModel.Inference"/>.</param>
    /// <exception cref="ContextMemoryException">The cache and buffers would not fit in the memory available.</exception>
    public InferenceSession(LlamaModel model, int contextLength = 0, int batchSize = 0, InferenceOptions? options = null)
    {
        _model = model;
        _c = model.Config;
        options ??= model.Inference;
        ContextLength = contextLength > 0 ? contextLength : _c.MaxPositionEmbeddings;
        // No batch is ever longer than the context, so neither are the buffers.
        BatchSize = Math.Clamp(batchSize > 0 ? batchSize : options.BatchSize, 1, ContextLength);
        _threads = options.Threads;
        var cacheType = options.CacheType;
        int dim = _c.HiddenSize, qDim = _c.NumHeads * _c.HeadDim, kv = _c.KvDim, hid = _c.IntermediateSize, B = BatchSize;
        foreach (var (spec, weight) in model.Weights.Tensors(_c))
            if (spec.IsMatrix && spec.Role != TensorRole.TokenEmbedding && !QuantMatMul.Supports(weight.Type))
                throw new ModelFormatException(model.Source, $"tensor type {weight.Type} cannot be computed on", key: spec.Name);
        ContextMemoryException.ThrowIfTooLarge(model.Source, RequiredBytes(_c, ContextLength, BatchSize, cacheType),
            ContextLength, cacheType);
        if (cacheType == KvCacheType.Q8_0 && _c.HeadDim % GgmlTypes.QK != 0)
            throw new ArgumentException($"a Q8_0 cache stores whole 32-value blocks per head; {model.Source} has heads of {_c.HeadDim}: use f16 or f32");
        _cache = new KvCache(cacheType, _c.NumLayers, ContextLength, kv);
        _attnNorm = Array.ConvertAll(model.Weights.Layers, L => Gain(L.AttnNorm));
        _ffnNorm = Array.ConvertAll(model.Weights.Layers, L => Gain(L.FfnNorm));
        _finalNorm = Gain(model.Weights.FinalNorm);
        // xPos magnitudes are centred mid-context so ζ^(±p/B) stays well inside float range at either end.
        _rope = new RotaryEmbedding(_c.RopeTheta, _c.RotaryDim, _c.HeadDim, _c.RopeScaling, xposCentre: ContextLength / 2);
        _lengthDependent = _rope.IsLengthDependent;
        _rotValid = new int[_c.NumLayers];
        _rotTable = new RopeTable?[_c.NumLayers];
        _rotFreqLength = new int[_c.NumLayers];
        if (_lengthDependent)
        {
            _rotatedKeys = new float[_c.NumLayers][];
            for (int l = 0; l < _c.NumLayers; l++) _rotatedKeys[l] = new float[(long)ContextLength * kv];
        }
        _x = new float[B * dim];
        _xb = new float[B * Math.Max(dim, qDim)];
        _q = new float[B * qDim];
        _k = new float[B * kv];
        _v = new float[B * kv];
        _att = new float[B * qDim];
        _xo = new float[B * dim];
        _hGate = new float[B * hid];
        _hUp = new float[B * hid];
        _logits = new float[B * _c.VocabSize];
        _lastLogits = new float[_c.VocabSize];
    }

    private static float[] Gain(Weight w) => w.ManagedFloats ?? w.Dequantize();

    /// <summary>
    /// Bytes a session allocates beyond the weights: the key/value cache for <paramref name="contextLength"/> positions
    /// in <paramref name="cacheType"/> (plus the rotated-key copies of the length-dependent RoPE types) and the
    /// activation buffers for <paramref name="batchSize"/> tokens.
    /// </summary>
    public static long RequiredBytes(LlamaConfig c, int contextLength, int batchSize, KvCacheType cacheType)
    {
        int dim = c.HiddenSize, qDim = c.NumHeads * c.HeadDim, kv = c.KvDim, hid = c.IntermediateSize;
        long cache = KvCache.RequiredBytes(cacheType, c.NumLayers, contextLength, kv);
        bool lengthDependent = c.RopeScaling?.Type is RopeTypes.Dynamic or RopeTypes.LongRope;
        // Length-dependent types keep rotated fp32 keys per layer and, for a narrow cache, decode whole layers.
        long rotated = lengthDependent ? 4L * c.NumLayers * contextLength * kv + KvCache.DecodeScratchBytes(cacheType, contextLength, kv) : 0;
        long activations = 4L * batchSize * (2L * dim + Math.Max(dim, qDim) + 2L * qDim + 2L * kv + 2L * hid + c.VocabSize);
        return cache + rotated + activations;
    }

    /// <summary>Forgets everything in the cache.</summary>
    public void Reset() => Truncate(0);

    /// <summary>
    /// Forgets the cache from <paramref name="position"/> on, so the next token goes there (a chat turn that diverges
    /// from what was fed, or a server slot reusing a shared prompt prefix). Entries past the position are simply
    /// overwritten later: attention only ever reads positions below <see cref="Position"/>.
    /// </summary>
    public void Truncate(int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(position);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(position, Position);
        Position = position;
        for (int l = 0; l < _rotValid.Length; l++) _rotValid[l] = Math.Min(_rotValid[l], position);
    }

    /// <summary>Appends one token and returns the logits for the next, [vocab]. The array is reused by the next call.</summary>
    public float[] Forward(int token)
    {
        // Decoding calls this once per token: a fresh 128 KB array each time (vocab 32,000) is a large-object
        // allocation per token and periodic gen-2 collections, so the result lives in one buffer instead.
        ForwardBatch([token], logitsFrom: 0);
        _logits.AsSpan(0, _c.VocabSize).CopyTo(_lastLogits);
        return _lastLogits;
    }

    /// <summary>Appends <paramref name="tokens"/> and returns the logits after the last one, [vocab] (a fresh array).</summary>
    public float[] Forward(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("no tokens to process", nameof(tokens));
        float[] last = [];
        for (int start = 0; start < tokens.Length; start += BatchSize)
        {
            int n = Math.Min(BatchSize, tokens.Length - start);
            bool final = start + n == tokens.Length;
            ForwardBatch(tokens.Slice(start, n), logitsFrom: final ? n - 1 : n);
            if (final) last = _logits.AsSpan((n - 1) * _c.VocabSize, _c.VocabSize).ToArray();
        }
        return last;
    }

    /// <summary>Appends <paramref name="tokens"/> and returns the logits at every one of them, [n][vocab].</summary>
    public float[][] ForwardAll(ReadOnlySpan<int> tokens)
    {
        var all = new float[tokens.Length][];
        for (int start = 0; start < tokens.Length; start += BatchSize)
        {
            int n = Math.Min(BatchSize, tokens.Length - start);
            ForwardBatch(tokens.Slice(start, n), logitsFrom: 0);
            for (int t = 0; t < n; t++) all[start + t] = _logits.AsSpan(t * _c.VocabSize, _c.VocabSize).ToArray();
        }
        return all;
    }

    /// <summary>
    /// Runs n ≤ BatchSize tokens at positions Position..Position+n−1 through the model; logits are computed for
    /// rows logitsFrom..n−1 only (the rest of a long prompt needs none).
    /// </summary>
    private void ForwardBatch(ReadOnlySpan<int> tokens, int logitsFrom)
    {
        int n = tokens.Length, pos0 = Position;
        if (pos0 + n > ContextLength)
            throw new InvalidOperationException($"context full: {pos0} + {n} tokens exceed the cache of {ContextLength} positions");
        var w = _model.Weights;
        int dim = _c.HiddenSize, nh = _c.NumHeads, nkv = _c.NumKvHeads, hd = _c.HeadDim, kvDim = _c.KvDim;
        int qDim = nh * hd, hid = _c.IntermediateSize, vocab = _c.VocabSize;
        var x = _x.AsSpan(0, n * dim);

        // x = E[token]                                    token_embd [vocab, dim]
        for (int t = 0; t < n; t++)
        {
            int tok = tokens[t];
            if ((uint)tok >= (uint)vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {tok} is outside the vocabulary of {vocab}");
            w.TokenEmbedding.DequantizeRow(tok, x.Slice(t * dim, dim));
        }

        for (int l = 0; l < _c.NumLayers; l++)
        {
            var L = w.Layers[l];
            var xb = _xb.AsSpan(0, n * dim);
            // xb = RMSNorm(x)·g_attn                       attn_norm [dim]
            RmsNorm.Forward(xb, x, _attnNorm[l], n, _c.RmsNormEps);
            // q = xb·Wqᵀ, k = xb·Wkᵀ, v = xb·Wvᵀ            Wq [nh·hd, dim], Wk/Wv [nkv·hd, dim]
            Linear(_q, xb, L.Wq, n);
            Linear(_k, xb, L.Wk, n);
            Linear(_v, xb, L.Wv, n);
            // q, k ← RoPE(q, pos), RoPE(k, pos)            adjacent pairs (2i, 2i+1) of each head
            // (length-dependent types rotate inside Attention instead, per query row)
            if (!_lengthDependent)
            {
                var table = _rope.GetTable(pos0 + n);
                for (int t = 0; t < n; t++)
                {
                    RotateHeads(table, _q.AsSpan(t * qDim, qDim), nh, pos0 + t, RopeRole.Query);
                    RotateHeads(table, _k.AsSpan(t * kvDim, kvDim), nkv, pos0 + t, RopeRole.Key);
                }
            }
            // cache[pos] = k, v
            _cache.Write(l, pos0, n, _k.AsSpan(0, n * kvDim), _v.AsSpan(0, n * kvDim));
            // att_h = softmax(q_h·K_gᵀ/√hd, causal)·V_g    query head h reads kv head g = h / (nh/nkv)
            Attention(n, pos0, l);
            // x += att·Woᵀ                                 Wo [dim, nh·hd]
            Linear(_xo, _att, L.Wo, n);
            TensorPrimitives.Add(x, _xo.AsSpan(0, n * dim), x);
            // xb = RMSNorm(x)·g_ffn                        ffn_norm [dim]
            RmsNorm.Forward(xb, x, _ffnNorm[l], n, _c.RmsNormEps);
            // h = silu(xb·W1ᵀ) ⊙ (xb·W3ᵀ)                  W1 (gate), W3 (up) [hidden, dim]
            Linear(_hGate, xb, L.WGate, n);
            Linear(_hUp, xb, L.WUp, n);
            SwiGlu.Forward(_hGate.AsSpan(0, n * hid), _hUp.AsSpan(0, n * hid));
            // x += h·W2ᵀ                                   W2 (down) [dim, hidden]
            Linear(_xo, _hGate, L.WDown, n);
            TensorPrimitives.Add(x, _xo.AsSpan(0, n * dim), x);
        }

        Position = pos0 + n;
        int rows = n - logitsFrom;
        if (rows <= 0) return;
        // xb = RMSNorm(x)·g_out                            output_norm [dim]
        var xf = _xb.AsSpan(0, rows * dim);
        RmsNorm.Forward(xf, x.Slice(logitsFrom * dim), _finalNorm, rows, _c.RmsNormEps);
        // logits = xb·Wclsᵀ                                output [vocab, dim] (or token_embd when tied)
        Linear(_logits.AsSpan(logitsFrom * vocab), xf, w.Classifier, rows);
    }

    /// <summary>
    /// y = x·Wᵀ for n rows, W [out, in] in its stored type: the quantized kernels read the blocks in place (no dequantized
    /// copy of the model exists); fp32 weights go on to the blocked GEMM from there.
    /// </summary>
    private unsafe void Linear(Span<float> y, ReadOnlySpan<float> x, Weight w, int n)
    {
        if (y.Length < (long)n * w.Rows || x.Length < (long)n * w.Cols) throw new ArgumentException($"{w.Name}: buffers too short for {n} rows");
        fixed (float* py = y, px = x)
            QuantMatMul.Forward(py, px, n, w.Data, w.Type, w.Rows, w.Cols, WorkerPool.Default, _threads);
    }

    /// <summary>Rotates every head of one row (adjacent pairs over the first d_rot dims of each head).</summary>
    private void RotateHeads(RopeTable table, Span<float> heads, int headCount, int pos, RopeRole role)
    {
        int hd = _c.HeadDim;
        table.ApplyAdjacent(heads, pos, role, headCount, hd);
    }

    /// <summary>
    /// The frequency set the query at <paramref name="pos"/> uses under the causal length rule, as a key that is equal
    /// for two positions exactly when they share one set: every position up to L shares the short set; past L
    /// longrope shares the long set and dynamic NTK has one set per length.
    /// </summary>
    private int FrequencySetKey(int pos)
    {
        int l = _rope.Scaling.OriginalContext ?? int.MaxValue;
        if (pos + 1 <= l) return 0;
        return _rope.Scaling.Type == RopeTypes.LongRope ? 1 : pos + 1;
    }

    /// <summary>
    /// Length-dependent RoPE for query rows t0..t1−1, which share one frequency set: rotates their query heads with
    /// that table and brings this layer's rotated-key copy up to date through the last row's position (all keys
    /// again if the table changed since the layer's last use).
    /// </summary>
    private void RotateForQueryRows(int t0, int t1, int pos0, int layer)
    {
        int kvDim = _c.KvDim, qDim = _c.NumHeads * _c.HeadDim, last = pos0 + t1 - 1;
        var table = _rope.GetTable(last + 1);
        for (int t = t0; t < t1; t++) RotateHeads(table, _q.AsSpan(t * qDim, qDim), _c.NumHeads, pos0 + t, RopeRole.Query);
        var rotated = _rotatedKeys![layer];
        if (!ReferenceEquals(_rotTable[layer], table) || _rotFreqLength[layer] != table.FrequencyLength)
        {
            _rotTable[layer] = table;
            _rotFreqLength[layer] = table.FrequencyLength;
            _rotValid[layer] = 0;
        }
        var raw = _cache.DecodeKeys(layer, last + 1);
        for (int j = _rotValid[layer]; j <= last; j++)
        {
            var dst = rotated.AsSpan(j * kvDim, kvDim);
            raw.AsSpan(j * kvDim, kvDim).CopyTo(dst);
            RotateHeads(table, dst, _c.NumKvHeads, j, RopeRole.Key);
        }
        _rotValid[layer] = Math.Max(_rotValid[layer], last + 1);
    }

    /// <summary>
    /// Causal grouped-query attention for the n new queries against the cache, with the tiled online-softmax kernel
    /// (<see cref="FlashAttention.ForwardCached"/>): no n × (pos0 + n) score matrix is formed. Its per-row arithmetic
    /// does not depend on how rows are batched, so prompts and token-by-token decoding agree exactly.
    /// </summary>
    private void Attention(int n, int pos0, int layer)
    {
        int nh = _c.NumHeads, nkv = _c.NumKvHeads, hd = _c.HeadDim, qDim = nh * hd;
        if (!_lengthDependent)
        {
            if (_cache.IsDense || AttentionOracle is not null)
                AttendRows(0, n, pos0, _cache.DecodeKeys(layer, pos0 + n), _cache.DecodeValues(layer, pos0 + n));
            else
            {
                // F16/Q8_0 rows go to the kernel as stored; it expands one head's tile at a time.
                var (k, v) = _cache.Stored(layer);
                FlashAttention.ForwardCached(_att.AsSpan(0, n * qDim), _q.AsSpan(0, n * qDim), k, v, n, pos0, nh, nkv, hd, AttentionTileSize, _threads);
            }
            return;
        }
        // Runs of rows that share a frequency set are rotated and attended together; dynamic NTK past L changes
        // the set every row, so there each row re-rotates the keys it reads (O(p·d), the cost of its scores).
        for (int t0 = 0; t0 < n;)
        {
            int key = FrequencySetKey(pos0 + t0), t1 = t0 + 1;
            while (t1 < n && FrequencySetKey(pos0 + t1) == key) t1++;
            RotateForQueryRows(t0, t1, pos0, layer);
            AttendRows(t0, t1, pos0, _rotatedKeys![layer], _cache.DecodeValues(layer, pos0 + t1));
            t0 = t1;
        }

        void AttendRows(int t0, int t1, int pos0, float[] keys, float[] values)
        {
            int rows = t1 - t0, first = pos0 + t0;
            var q = _q.AsSpan(t0 * qDim, rows * qDim);
            var o = _att.AsSpan(t0 * qDim, rows * qDim);
            if (AttentionOracle is { } oracle) oracle(o, q, keys, values, rows, first);
            else FlashAttention.ForwardCached<float>(o, q, keys, values, rows, first, nh, nkv, hd, AttentionTileSize, _threads);
        }
    }
}
