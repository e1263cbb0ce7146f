using System.Numerics;
using System.Numerics.Tensors;
using Elongate.Model;
using Elongate.Rope;
using Elongate.Tokenization;
using Elongate.Common;
using Elongate.Kernels;

namespace Elongate.Training;

/// <summary>
/// A Llama 2 decoder for training, in the style of llm.c: every parameter lives in one flat buffer with a matching
/// flat gradient buffer, every activation the backward needs is stored in buffers allocated once for
/// (<see cref="BatchSize"/>, <see cref="SeqLen"/>), and each layer's forward and backward are the kernels of this
/// namespace with the same names. Attention is <see cref="FlashAttention"/>, so stored attention state is O(T·d).
/// T is the working precision: float for training (fp32 master weights), double for finite-difference checks of
/// the very same code.
/// </summary>
/// <remarks>
/// <para><b>RoPE.</b> The rotary tables come from the config's <see cref="LlamaConfig.RopeTheta"/> and
/// <see cref="LlamaConfig.RopeScaling"/> through the same <see cref="RotaryEmbedding"/> the inference session uses
/// (cos/sin with the attention factor folded in, xPos query and key scales), for positions [0, T). Every type works:
/// the static ones (default/ABF, linear, ntk, yarn, llama3, xpos) give the very tables inference uses. The
/// length-dependent ones (dynamic NTK, longrope) use <i>the frequency set for the training length T at every
/// position</i> (<c>GetTable(T)</c>): dynamic's base for ℓ = max(T, L), longrope's long factors when T &gt; L. That is
/// what transformers does in training (one forward over the whole sequence) and what the model will see at inference
/// once a prompt reaches T. It differs from inference's causal per-row rule only for rows p with p + 1 &lt; T when
/// T &gt; L; with T ≤ L both are the unscaled set. xPos is centred at T/2 (any centre gives the same logits in exact
/// arithmetic; the centre keeps ζ^(±p/B) in range).</para>
/// <para><b>Gradient checkpointing.</b> With <see cref="GradientCheckpointing"/> only each layer's input (the residual
/// stream) is kept; one set of per-layer activation buffers is shared by all layers and refilled during the backward
/// by re-running that layer's forward. The recomputation is the same deterministic code on the same inputs, so the
/// gradients are bit-identical to the stored-activation path; activation memory drops from about
/// L·(8·d + 3·d_ff) to L·d + 8·d + 3·d_ff values per token at the cost of one more forward pass.</para>
/// </remarks>
public sealed class LlamaTrainingModel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private sealed record LayerOffsets(int AttnNorm, int Wq, int Wk, int Wv, int Wo, int FfnNorm, int WGate, int WDown, int WUp);

    private readonly int _dim, _qDim, _kvDim, _hid, _vocab, _heads, _kvHeads, _headDim, _rotDim, _rows;
    private readonly int _tokEmb, _finalNorm, _classifier;
    private readonly LayerOffsets[] _off;
    private readonly Dictionary<(TensorRole Role, int Layer), int> _offsets = [];
    private readonly List<ParameterTensor> _tensors = [];
    private readonly AttentionShape _shape;

    /// <summary>What the backward of one layer needs from its forward, all [B·T, width].</summary>
    private sealed class LayerActivations
    {
        public readonly T[] ResMid, Ln1, Ln2, Rstd1, Rstd2, Q, K, V, Att, Lse, Gate, Up, H;

        public LayerActivations(int rows, int dim, int qDim, int kvDim, int hid, int heads)
        {
            ResMid = new T[rows * dim]; Ln1 = new T[rows * dim]; Ln2 = new T[rows * dim];
            Rstd1 = new T[rows]; Rstd2 = new T[rows];
            Q = new T[rows * qDim]; K = new T[rows * kvDim]; V = new T[rows * kvDim];
            Att = new T[rows * qDim]; Lse = new T[rows * heads];
            Gate = new T[rows * hid]; Up = new T[rows * hid]; H = new T[rows * hid];
        }

        public long Elements => (long)ResMid.Length + Ln1.Length + Ln2.Length + Rstd1.Length + Rstd2.Length + Q.Length + K.Length
            + V.Length + Att.Length + Lse.Length + Gate.Length + Up.Length + H.Length;
    }

    // Activations. _res[l] is the residual stream entering layer l (last: after the final layer), [L+1][BT·dim];
    // _acts[l] the rest of layer l's activations: one object per layer, or one shared object with checkpointing.
    private readonly T[][] _res;
    private readonly LayerActivations[] _acts;
    private readonly T[] _lnf, _rstdf, _logits, _ceLse;
    // Gradient scratch shared by all layers.
    private readonly T[] _proj, _dRes, _dLn, _dAtt, _dq, _dk, _dv, _dH, _dGate, _dUp;

    private T[] _cos, _sin, _qScale, _kScale;
    private readonly int[] _inputs, _targets, _segments;
    private bool _hasSegments, _forwardDone;

    /// <summary>
    /// The architecture; TieWordEmbeddings decides whether an output.weight tensor exists. RopeTheta and RopeScaling
    /// follow <see cref="SetRope(float, RopeScaling?)"/>, so <see cref="ToModel"/> exports the RoPE trained with.
    /// </summary>
    public LlamaConfig Config { get; private set; }

    /// <summary>
    /// The rotary embedding the tables were built from; null after <see cref="SetRope(T[], T[], T[], T[])"/> installed
    /// tables directly.
    /// </summary>
    public RotaryEmbedding? Rope { get; private set; }

    /// <summary>True when layer activations are recomputed in the backward instead of stored (see remarks).</summary>
    public bool GradientCheckpointing { get; }

    /// <summary>
    /// Bytes of every buffer sized by B·T: stored activations, logits and the gradient scratch shared by all layers.
    /// They are allocated once, in the constructor, so this is the model's activation memory at any point of a step
    /// (FlashAttention adds only O(tile²) scratch per thread).
    /// </summary>
    public long ActivationBytes { get; }

    /// <summary>Sequences per batch (B); activation buffers are sized for exactly B·T tokens.</summary>
    public int BatchSize { get; }

    /// <summary>Tokens per sequence (T); also the length of the RoPE tables.</summary>
    public int SeqLen { get; }

    /// <summary>All parameters, laid out as <see cref="Tensors"/> lists them.</summary>
    public T[] Parameters { get; }

    /// <summary>Gradients, same layout as <see cref="Parameters"/>; <see cref="Backward"/> adds to them.</summary>
    public T[] Gradients { get; }

    public IReadOnlyList<ParameterTensor> Tensors => _tensors;

    /// <summary>Tile size handed to <see cref="FlashAttention"/>.</summary>
    public int AttentionTileSize { get; set; } = FlashAttention.DefaultTileSize;

    /// <summary>Targets equal to this are masked out of the loss.</summary>
    public int IgnoreIndex { get; set; } = CrossEntropy.DefaultIgnoreIndex;

    /// <summary>Logits [B·T, vocab] of the last <see cref="Forward"/>; <see cref="Backward"/> overwrites them with their gradient.</summary>
    public ReadOnlySpan<T> Logits => _logits;

    /// <summary>Vocabulary carried from the model this one was loaded from, handed back by <see cref="ToModel"/>.</summary>
    public TokenVocabulary? Vocabulary { get; set; }

    /// <summary>
    /// Allocates parameters, gradients and activations for <paramref name="config"/>; parameters start at zero, RoPE
    /// is the config's (see remarks).
    /// </summary>
    /// <param name="gradientCheckpointing">Store only each layer's input and recompute the rest in the backward.</param>
    public LlamaTrainingModel(LlamaConfig config, int batchSize, int seqLen, bool gradientCheckpointing = false)
    {
        config.Validate("<training config>");
        if (batchSize <= 0 || seqLen <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size and sequence length must be positive");
        Config = config;
        GradientCheckpointing = gradientCheckpointing;
        BatchSize = batchSize;
        SeqLen = seqLen;
        _dim = config.HiddenSize; _heads = config.NumHeads; _kvHeads = config.NumKvHeads; _headDim = config.HeadDim;
        _qDim = _heads * _headDim; _kvDim = config.KvDim; _hid = config.IntermediateSize; _vocab = config.VocabSize;
        _rotDim = config.RotaryDim; _rows = checked(batchSize * seqLen);
        _shape = new AttentionShape(batchSize, seqLen, _heads, _kvHeads, _headDim);
        long widest = Math.Max(Math.Max((long)_vocab, _hid), Math.Max(_qDim, _dim));
        if ((long)_rows * widest > Array.MaxLength)
            throw new ArgumentException($"B·T = {_rows} rows of width {widest} exceed one activation buffer; use a smaller batch", nameof(batchSize));

        long offset = 0;
        int Add(string name, params int[] shape)
        {
            long length = shape.Aggregate(1L, (a, b) => a * b);
            if (offset + length > Array.MaxLength) throw new ArgumentException("the model has more parameters than one flat buffer can hold", nameof(config));
            _tensors.Add(new ParameterTensor(name, (int)offset, shape));
            offset += length;
            return (int)(offset - length);
        }
        // One parameter tensor per schema entry, in schema order; a tied head shares the embedding's offset.
        foreach (var spec in LlamaTensorSchema.Enumerate(config))
            _offsets[(spec.Role, spec.Layer)] = Add(spec.Name, spec.Shape.Select(d => (int)d).ToArray());
        _tokEmb = _offsets[(TensorRole.TokenEmbedding, -1)];
        _finalNorm = _offsets[(TensorRole.FinalNorm, -1)];
        _classifier = config.TieWordEmbeddings ? _tokEmb : _offsets[(TensorRole.Output, -1)];
        _off = new LayerOffsets[config.NumLayers];
        for (int l = 0; l < config.NumLayers; l++)
        {
            int O(TensorRole role) => _offsets[(role, l)];
            _off[l] = new LayerOffsets(O(TensorRole.AttnNorm), O(TensorRole.Wq), O(TensorRole.Wk), O(TensorRole.Wv), O(TensorRole.Wo),
                O(TensorRole.FfnNorm), O(TensorRole.WGate), O(TensorRole.WDown), O(TensorRole.WUp));
        }
        Parameters = new T[offset];
        Gradients = new T[offset];

        int L = config.NumLayers, BT = _rows;
        T[][] Alloc(int count, int length) { var a = new T[count][]; for (int i = 0; i < count; i++) a[i] = new T[length]; return a; }
        _res = Alloc(L + 1, BT * _dim);
        _acts = new LayerActivations[L];
        for (int l = 0; l < L; l++)
            _acts[l] = gradientCheckpointing && l > 0 ? _acts[0] : new LayerActivations(BT, _dim, _qDim, _kvDim, _hid, _heads);
        _lnf = new T[BT * _dim]; _rstdf = new T[BT]; _logits = new T[(long)BT * _vocab]; _ceLse = new T[BT];
        _proj = new T[BT * _dim]; _dRes = new T[BT * _dim]; _dLn = new T[BT * _dim]; _dAtt = new T[BT * _qDim];
        _dq = new T[BT * _qDim]; _dk = new T[BT * _kvDim]; _dv = new T[BT * _kvDim];
        _dH = new T[BT * _hid]; _dGate = new T[BT * _hid]; _dUp = new T[BT * _hid];
        _inputs = new int[BT]; _targets = new int[BT]; _segments = new int[BT];
        long elements = (L + 1L) * _res[0].Length + _acts.Distinct().Sum(a => a.Elements)
            + _lnf.Length + _rstdf.Length + _logits.LongLength + _ceLse.Length
            + _proj.Length + _dRes.Length + _dLn.Length + _dAtt.Length + _dq.Length + _dk.Length + _dv.Length
            + _dH.Length + _dGate.Length + _dUp.Length;
        ActivationBytes = elements * System.Runtime.CompilerServices.Unsafe.SizeOf<T>() + 3L * BT * sizeof(int);
        _cos = _sin = _qScale = _kScale = [];
        InstallRope(config.RopeTheta, config.RopeScaling);
    }

    /// <summary>Copies the weights of <paramref name="model"/> into a new training model (tied when its Output is null).</summary>
    /// <remarks>RoPE is the model config's (any type; see the class remarks for dynamic and longrope).</remarks>
    public static LlamaTrainingModel<T> FromModel(LlamaModel model, int batchSize, int seqLen, bool gradientCheckpointing = false)
    {
        model.Weights.Validate(model.Config, model.Source);
        var config = model.Config with { TieWordEmbeddings = model.Weights.Output is null };
        var m = new LlamaTrainingModel<T>(config, batchSize, seqLen, gradientCheckpointing) { Vocabulary = model.Vocabulary };
        m.LoadWeights(model.Weights);
        return m;
    }

    /// <summary>Overwrites the parameters with <paramref name="weights"/>, which must have this model's shapes and tying.</summary>
    public void LoadWeights(LlamaWeights weights)
    {
        weights.Validate(Config, "<weights>");
        if ((weights.Output is null) != Config.TieWordEmbeddings)
            throw new ArgumentException("the weights' output head tying does not match the training model's config", nameof(weights));
        foreach (var (spec, weight) in weights.Tensors(Config))
        {
            var src = weight.ManagedFloats ?? weight.Dequantize();
            var dst = Parameters.AsSpan(_offsets[(spec.Role, spec.Layer)], src.Length);
            for (int i = 0; i < src.Length; i++) dst[i] = T.CreateChecked(src[i]);
        }
    }

    /// <summary>A standalone fp32 copy of the parameters, for the model writers and <see cref="InferenceSession"/>.</summary>
    public LlamaModel ToModel(string source = "<trained>")
    {
        var weights = LlamaWeights.FromFloats(Config, spec =>
        {
            var a = new float[spec.ElementCount];
            var src = Parameters.AsSpan(_offsets[(spec.Role, spec.Layer)], a.Length);
            for (int i = 0; i < a.Length; i++) a[i] = float.CreateChecked(src[i]);
            return a;
        });
        return new LlamaModel { Config = Config, Weights = weights, Vocabulary = Vocabulary, Source = source };
    }

    /// <summary>
    /// GPT-2/llm.c initialization: matrices N(0, std²), the two projections that write into the residual stream
    /// scaled by 1/√(2·layers) so its variance does not grow with depth, norm gains 1.
    /// </summary>
    public void InitializeRandom(int seed, double std = 0.02)
    {
        var rng = new Random(seed);
        double residualStd = std / Math.Sqrt(2.0 * _off.Length);
        foreach (var t in _tensors)
        {
            var p = Parameters.AsSpan(t.Offset, t.Length);
            if (!t.IsMatrix) { p.Fill(T.One); continue; }
            double s = t.Name.EndsWith("attn_output.weight", StringComparison.Ordinal) || t.Name.EndsWith("ffn_down.weight", StringComparison.Ordinal) ? residualStd : std;
            for (int i = 0; i < p.Length; i++)
            {
                // Box–Muller.
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                p[i] = T.CreateChecked(s * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
            }
        }
    }

    /// <summary>
    /// Replaces the rotary tables with hand-made ones: cos and sin are [SeqLen, d_rot/2] and the optional scales (xPos:
    /// ζ for queries, 1/ζ for keys) have the same shape. <see cref="Config"/> is left as it is, so an export does not
    /// describe such tables; prefer <see cref="SetRope(float, RopeScaling?)"/>.
    /// </summary>
    public void SetRope(T[] cos, T[] sin, T[]? queryScale = null, T[]? keyScale = null)
    {
        int n = SeqLen * (_rotDim / 2);
        if (cos.Length != n || sin.Length != n || (queryScale is not null && queryScale.Length != n) || (keyScale is not null && keyScale.Length != n))
            throw new ArgumentException($"RoPE tables must hold [{SeqLen}, {_rotDim / 2}] = {n} values");
        _cos = cos; _sin = sin; _qScale = queryScale ?? []; _kScale = keyScale ?? [];
        Rope = null;
    }

    /// <summary>
    /// Switches to RoPE base <paramref name="ropeTheta"/> with <paramref name="scaling"/> (null: plain RoPE, which with
    /// a raised base is ABF) and records both in <see cref="Config"/>, so the exported model carries them. This is the
    /// continual-pretraining step "change the RoPE, keep the weights". Throws
    /// <see cref="Common.ModelFormatException"/> for settings the config rejects (e.g. llama3 needs L below
    /// max_position_embeddings).
    /// </summary>
    public void SetRope(float ropeTheta, RopeScaling? scaling)
    {
        var config = Config with { RopeTheta = ropeTheta, RopeScaling = scaling };
        config.Validate("<rope settings>");
        InstallRope(ropeTheta, scaling);
        Config = config;
    }

    /// <summary>Builds the [T, d_rot/2] tables from a <see cref="RotaryEmbedding"/> for length T (see the class remarks).</summary>
    private void InstallRope(float ropeTheta, RopeScaling? scaling)
    {
        var rope = new RotaryEmbedding(ropeTheta, _rotDim, _headDim, scaling, xposCentre: SeqLen / 2);
        var table = rope.GetTable(SeqLen);
        int pairs = table.Pairs, n = SeqLen * pairs;
        var cos = new T[n];
        var sin = new T[n];
        T[] qs = rope.Scaling.HasXpos ? new T[n] : [], ks = rope.Scaling.HasXpos ? new T[n] : [];
        for (int p = 0; p < SeqLen; p++)
        {
            ReadOnlySpan<float> c = table.Cos(p), s = table.Sin(p);
            for (int i = 0; i < pairs; i++) { cos[p * pairs + i] = T.CreateChecked(c[i]); sin[p * pairs + i] = T.CreateChecked(s[i]); }
            if (!rope.Scaling.HasXpos) continue;
            ReadOnlySpan<float> xq = table.XposScale(p, RopeRole.Query), xk = table.XposScale(p, RopeRole.Key);
            for (int i = 0; i < pairs; i++) { qs[p * pairs + i] = T.CreateChecked(xq[i]); ks[p * pairs + i] = T.CreateChecked(xk[i]); }
        }
        _cos = cos; _sin = sin; _qScale = qs; _kScale = ks;
        Rope = rope;
    }

    /// <summary>Zeroes the gradient buffer; <see cref="Backward"/> accumulates, so micro-batches can be summed.</summary>
    public void ZeroGrad() => Array.Clear(Gradients);

    /// <summary>
    /// Runs the batch and returns the mean cross-entropy over targets that are not <see cref="IgnoreIndex"/>.
    /// </summary>
    /// <param name="inputs">Token ids [B·T], row-major by sequence.</param>
    /// <param name="targets">Next-token targets [B·T].</param>
    /// <param name="segments">
    /// Optional document id per token [B·T]; attention stays within equal ids. RoPE positions stay those of the row
    /// (relative positions inside a document are unchanged by that, so only absolute-position RoPE variants care).
    /// </param>
    public T Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, ReadOnlySpan<int> segments = default)
    {
        int BT = _rows, L = _off.Length, dim = _dim;
        if (inputs.Length != BT || targets.Length != BT || (!segments.IsEmpty && segments.Length != BT))
            throw new ArgumentException($"inputs, targets (and segments) must hold B·T = {BT} tokens");
        inputs.CopyTo(_inputs);
        targets.CopyTo(_targets);
        _hasSegments = !segments.IsEmpty;
        if (_hasSegments) segments.CopyTo(_segments);
        T eps = T.CreateChecked(Config.RmsNormEps);

        Embedding.Forward(_res[0].AsSpan(), inputs, P(_tokEmb, _vocab * dim), dim);
        for (int l = 0; l < L; l++) LayerForward(l);
        RmsNormLayer.Forward(_lnf.AsSpan(), _rstdf, _res[L], P(_finalNorm, dim), BT, eps);
        Linear.Forward(_logits.AsSpan(), _lnf, P(_classifier, _vocab * dim), BT, dim, _vocab);
        _forwardDone = true;
        return CrossEntropy.Forward(_logits, _ceLse, targets, BT, _vocab, IgnoreIndex);
    }

    /// <summary>Layer l: reads _res[l], fills _acts[l] and writes _res[l+1]. Also the recomputation under checkpointing.</summary>
    private void LayerForward(int l)
    {
        int BT = _rows, dim = _dim;
        var o = _off[l];
        var a = _acts[l];
        ReadOnlySpan<int> seg = _hasSegments ? _segments : default;
        T eps = T.CreateChecked(Config.RmsNormEps);
        RmsNormLayer.Forward(a.Ln1.AsSpan(), a.Rstd1, _res[l], P(o.AttnNorm, dim), BT, eps);
        Linear.Forward(a.Q.AsSpan(), a.Ln1, P(o.Wq, _qDim * dim), BT, dim, _qDim);
        Linear.Forward(a.K.AsSpan(), a.Ln1, P(o.Wk, _kvDim * dim), BT, dim, _kvDim);
        Linear.Forward(a.V.AsSpan(), a.Ln1, P(o.Wv, _kvDim * dim), BT, dim, _kvDim);
        RopeRotation.Forward(a.Q.AsSpan(), BT, SeqLen, _heads, _headDim, _rotDim, _cos, _sin, _qScale);
        RopeRotation.Forward(a.K.AsSpan(), BT, SeqLen, _kvHeads, _headDim, _rotDim, _cos, _sin, _kScale);
        FlashAttention.Forward(a.Att.AsSpan(), a.Lse, a.Q, a.K, a.V, _shape, seg, AttentionTileSize);
        Linear.Forward(_proj.AsSpan(), a.Att, P(o.Wo, dim * _qDim), BT, _qDim, dim);
        TensorPrimitives.Add(_res[l], _proj, a.ResMid);
        RmsNormLayer.Forward(a.Ln2.AsSpan(), a.Rstd2, a.ResMid, P(o.FfnNorm, dim), BT, eps);
        Linear.Forward(a.Gate.AsSpan(), a.Ln2, P(o.WGate, _hid * dim), BT, dim, _hid);
        Linear.Forward(a.Up.AsSpan(), a.Ln2, P(o.WUp, _hid * dim), BT, dim, _hid);
        SwiGluLayer.Forward(a.H.AsSpan(), a.Gate, a.Up);
        Linear.Forward(_proj.AsSpan(), a.H, P(o.WDown, dim * _hid), BT, _hid, dim);
        TensorPrimitives.Add(a.ResMid, _proj, _res[l + 1]);
    }

    /// <summary>Adds the gradient of the last <see cref="Forward"/>'s mean loss to <see cref="Gradients"/>.</summary>
    public void Backward()
    {
        if (!_forwardDone) throw new InvalidOperationException("Backward needs a Forward first (each Forward allows one Backward)");
        _forwardDone = false;
        int BT = _rows, L = _off.Length, dim = _dim;

        // The logits buffer becomes dLogits in place: the fused softmax+CE never stores probabilities.
        CrossEntropy.Backward(_logits.AsSpan(), _logits, _ceLse, _targets, BT, _vocab, T.One, IgnoreIndex);
        Array.Clear(_dLn);
        Linear.Backward(_dLn.AsSpan(), G(_classifier, _vocab * dim), _logits, _lnf, P(_classifier, _vocab * dim), BT, dim, _vocab);
        Array.Clear(_dRes);
        RmsNormLayer.Backward(_dRes.AsSpan(), G(_finalNorm, dim), _dLn, _res[L], P(_finalNorm, dim), _rstdf, BT);
        for (int l = L - 1; l >= 0; l--)
        {
            // Checkpointing: refill the shared activation buffers from the stored layer input. The last layer's are
            // still there from the forward. _res[l + 1] is rewritten with the same bits and is no longer read.
            if (GradientCheckpointing && l < L - 1) LayerForward(l);
            LayerBackward(l);
        }
        Embedding.Backward(G(_tokEmb, _vocab * dim), _dRes, _inputs, dim);
    }

    /// <summary>Layer l's backward: _dRes holds dL/d_res[l+1] on entry and dL/d_res[l] on exit.</summary>
    private void LayerBackward(int l)
    {
        int BT = _rows, dim = _dim;
        var o = _off[l];
        var a = _acts[l];
        ReadOnlySpan<int> seg = _hasSegments ? _segments : default;
        // MLP: res[l+1] = resMid + down(silu(gate(ln2)) ⊙ up(ln2)); dRes holds dL/dres[l+1].
        Array.Clear(_dH);
        Linear.Backward(_dH.AsSpan(), G(o.WDown, dim * _hid), _dRes, a.H, P(o.WDown, dim * _hid), BT, _hid, dim);
        Array.Clear(_dGate); Array.Clear(_dUp);
        SwiGluLayer.Backward(_dGate.AsSpan(), _dUp, _dH, a.Gate, a.Up);
        Array.Clear(_dLn);
        Linear.Backward(_dLn.AsSpan(), G(o.WGate, _hid * dim), _dGate, a.Ln2, P(o.WGate, _hid * dim), BT, dim, _hid);
        Linear.Backward(_dLn.AsSpan(), G(o.WUp, _hid * dim), _dUp, a.Ln2, P(o.WUp, _hid * dim), BT, dim, _hid);
        RmsNormLayer.Backward(_dRes.AsSpan(), G(o.FfnNorm, dim), _dLn, a.ResMid, P(o.FfnNorm, dim), a.Rstd2, BT);
        // Attention: resMid = res[l] + Wo(attn(rope(q), rope(k), v)); dRes now holds dL/dresMid.
        Array.Clear(_dAtt);
        Linear.Backward(_dAtt.AsSpan(), G(o.Wo, dim * _qDim), _dRes, a.Att, P(o.Wo, dim * _qDim), BT, _qDim, dim);
        Array.Clear(_dq); Array.Clear(_dk); Array.Clear(_dv);
        FlashAttention.Backward(_dq.AsSpan(), _dk, _dv, _dAtt, a.Q, a.K, a.V, a.Att, a.Lse, _shape, seg, AttentionTileSize);
        RopeRotation.Backward(_dq.AsSpan(), BT, SeqLen, _heads, _headDim, _rotDim, _cos, _sin, _qScale);
        RopeRotation.Backward(_dk.AsSpan(), BT, SeqLen, _kvHeads, _headDim, _rotDim, _cos, _sin, _kScale);
        Array.Clear(_dLn);
        Linear.Backward(_dLn.AsSpan(), G(o.Wq, _qDim * dim), _dq, a.Ln1, P(o.Wq, _qDim * dim), BT, dim, _qDim);
        Linear.Backward(_dLn.AsSpan(), G(o.Wk, _kvDim * dim), _dk, a.Ln1, P(o.Wk, _kvDim * dim), BT, dim, _kvDim);
        Linear.Backward(_dLn.AsSpan(), G(o.Wv, _kvDim * dim), _dv, a.Ln1, P(o.Wv, _kvDim * dim), BT, dim, _kvDim);
        RmsNormLayer.Backward(_dRes.AsSpan(), G(o.AttnNorm, dim), _dLn, _res[l], P(o.AttnNorm, dim), a.Rstd1, BT);
    }

    private ReadOnlySpan<T> P(int offset, int length) => Parameters.AsSpan(offset, length);
    private Span<T> G(int offset, int length) => Gradients.AsSpan(offset, length);
}
