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
/// <para><b>LoRA.</b> <see cref="AddLora"/> attaches adapters to chosen projections (see the LoRA part of this class)
/// and freezes the base: <see cref="TrainBase"/> turns false, the backward then computes input gradients only through
/// the base weights, which stay in <see cref="Parameters"/> as fp32 (the training model dequantizes a quantized base
/// on load), and <see cref="Gradients"/> is never allocated.</para>
/// <para><b>Loss weights.</b> <see cref="Forward(ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{int}, ReadOnlySpan{T})"/>
/// takes one weight per token and returns Σ w·loss instead of the mean, so a trainer can make a step's loss the mean
/// over all loss tokens of several micro-batches, or give every example the same weight.</para>
/// </remarks>
public sealed partial class LlamaTrainingModel<T> where T : unmanaged, IFloatingPointIeee754<T>
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
    private readonly T[] _lossWeights;
    private bool _hasSegments, _forwardDone, _weighted;
    private T[]? _gradients;
    // With a frozen base the norm-gain gradients land here and are thrown away.
    private readonly T[] _discard;

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

    /// <summary>
    /// Gradients, same layout as <see cref="Parameters"/>; <see cref="Backward"/> adds to them while
    /// <see cref="TrainBase"/> holds. Allocated on first use, so a LoRA model (frozen base) never holds a second copy of
    /// the base's size.
    /// </summary>
    public T[] Gradients => _gradients ??= new T[Parameters.Length];

    /// <summary>
    /// Whether the backward computes gradients of the base parameters (true unless <see cref="AddLora"/> froze them).
    /// False: only input gradients flow through the base, for the adapters' sake.
    /// </summary>
    public bool TrainBase { get; set; } = true;

    public IReadOnlyList<ParameterTensor> Tensors => _tensors;

    /// <summary>Tile size handed to <see cref="FlashAttention"/>; by default <see cref="FlashAttention.TrainingTileSize"/> of the sequence length.</summary>
    public int AttentionTileSize { get; set; }

    /// <summary>Targets equal to this are masked out of the loss.</summary>
    public int IgnoreIndex { get; set; } = CrossEntropy.DefaultIgnoreIndex;

    /// <summary>Logits [B·T, vocab] of the last forward; <see cref="Backward"/> overwrites them with their gradient.</summary>
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
        AttentionTileSize = FlashAttention.TrainingTileSize(seqLen);
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
        _inputs = new int[BT]; _targets = new int[BT]; _segments = new int[BT]; _lossWeights = new T[BT];
        _discard = new T[Math.Max(_dim, 1)];
        long elements = (L + 1L) * _res[0].Length + _acts.Distinct().Sum(a => a.Elements)
            + _lnf.Length + _rstdf.Length + _logits.LongLength + _ceLse.Length
            + _proj.Length + _dRes.Length + _dLn.Length + _dAtt.Length + _dq.Length + _dk.Length + _dv.Length
            + _dH.Length + _dGate.Length + _dUp.Length + _lossWeights.Length;
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

    /// <summary>
    /// A standalone fp32 copy of the model this one computes, for the model writers and <see cref="InferenceSession"/>:
    /// the parameters, with LoRA adapters (if any) merged into their projections as W + s·B·A.
    /// </summary>
    public LlamaModel ToModel(string source = "<trained>")
    {
        var weights = LlamaWeights.FromFloats(Config, spec =>
        {
            var src = MergedTensor(spec);
            var a = new float[spec.ElementCount];
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

    /// <summary>Zeroes the gradient buffers (base and adapters); <see cref="Backward"/> accumulates, so micro-batches can be summed.</summary>
    public void ZeroGrad()
    {
        if (_gradients is not null) Array.Clear(_gradients);
        if (_lora is not null) Array.Clear(_lora.Gradients);
    }

    /// <summary>
    /// Runs the batch and returns the mean cross-entropy over targets that are not <see cref="IgnoreIndex"/>.
    /// </summary>
    /// <param name="inputs">Token ids [B·T], row-major by sequence.</param>
    /// <param name="targets">Next-token targets [B·T].</param>
    /// <param name="segments">
    /// Optional document id per token [B·T]; attention stays within equal ids. RoPE positions stay those of the row
    /// (relative positions inside a document are unchanged by that, so only absolute-position RoPE variants care).
    /// </param>
    public T Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, ReadOnlySpan<int> segments = default) =>
        Forward(inputs, targets, segments, default);

    /// <summary>
    /// Runs the batch; with <paramref name="lossWeights"/> (one per token, [B·T]) returns Σ_t w_t·loss_t over targets
    /// that are not <see cref="IgnoreIndex"/> and makes <see cref="Backward"/> the gradient of that sum; empty weights
    /// give the mean, as the other overload.
    /// </summary>
    /// <param name="segments">
    /// Optional example id per token; attention stays within equal ids, and id <see cref="FlashAttention.PaddingSegment"/>
    /// (−1) marks padding, which attends to nothing, is seen by nothing and costs no attention work.
    /// </param>
    public T Forward(ReadOnlySpan<int> inputs, ReadOnlySpan<int> targets, ReadOnlySpan<int> segments, ReadOnlySpan<T> lossWeights)
    {
        int BT = _rows, L = _off.Length, dim = _dim;
        if (inputs.Length != BT || targets.Length != BT || (!segments.IsEmpty && segments.Length != BT) || (!lossWeights.IsEmpty && lossWeights.Length != BT))
            throw new ArgumentException($"inputs, targets (and segments, loss weights) must hold B·T = {BT} tokens");
        inputs.CopyTo(_inputs);
        targets.CopyTo(_targets);
        _weighted = !lossWeights.IsEmpty;
        if (_weighted) lossWeights.CopyTo(_lossWeights);
        _hasSegments = !segments.IsEmpty;
        if (_hasSegments) segments.CopyTo(_segments);
        T eps = T.CreateChecked(Config.RmsNormEps);

        Embedding.Forward(_res[0].AsSpan(), inputs, P(_tokEmb, _vocab * dim), dim);
        if (L == 0) RmsNormLayer.Forward(_lnf.AsSpan(), _rstdf, _res[0], P(_finalNorm, dim), BT, eps);
        else RmsNormLayer.Forward(_acts[0].Ln1.AsSpan(), _acts[0].Rstd1, _res[0], P(_off[0].AttnNorm, dim), BT, eps);
        // Each layer ends with its residual add fused with the next norm (the last one's with the final norm).
        for (int l = 0; l < L; l++) LayerForward(l, recompute: false);
        Linear.Forward(_logits.AsSpan(), _lnf, P(_classifier, _vocab * dim), BT, dim, _vocab);
        _forwardDone = true;
        return _weighted
            ? CrossEntropy.ForwardWeighted<T>(_logits, _ceLse, targets, _lossWeights, BT, _vocab, IgnoreIndex)
            : CrossEntropy.Forward(_logits, _ceLse, targets, BT, _vocab, IgnoreIndex);
    }

    /// <summary>
    /// Layer l: reads _res[l], fills _acts[l] and writes _res[l+1]. In the forward pass (<paramref name="recompute"/>
    /// false) the layer's input norm (Ln1, Rstd1) was already written by the previous layer's fused residual add, and
    /// the closing residual add is fused with the next layer's input norm (or the final norm). As the recomputation
    /// under checkpointing, it computes its own input norm and writes nothing past its own activations: the shared
    /// buffers then hold layer l's, and _res[l+1] is no longer read.
    /// </summary>
    private void LayerForward(int l, bool recompute)
    {
        int BT = _rows, dim = _dim;
        var o = _off[l];
        var a = _acts[l];
        ReadOnlySpan<int> seg = _hasSegments ? _segments : default;
        T eps = T.CreateChecked(Config.RmsNormEps);
        if (recompute) RmsNormLayer.Forward(a.Ln1.AsSpan(), a.Rstd1, _res[l], P(o.AttnNorm, dim), BT, eps);
        Linear.Forward(a.Q.AsSpan(), a.Ln1, P(o.Wq, _qDim * dim), BT, dim, _qDim);
        Linear.Forward(a.K.AsSpan(), a.Ln1, P(o.Wk, _kvDim * dim), BT, dim, _kvDim);
        Linear.Forward(a.V.AsSpan(), a.Ln1, P(o.Wv, _kvDim * dim), BT, dim, _kvDim);
        if (_lora is not null)
        {
            LoraForward(l, TensorRole.Wq, a.Q, a.Ln1);
            LoraForward(l, TensorRole.Wk, a.K, a.Ln1);
            LoraForward(l, TensorRole.Wv, a.V, a.Ln1);
        }
        RopeRotation.Forward(a.Q.AsSpan(), BT, SeqLen, _heads, _headDim, _rotDim, _cos, _sin, _qScale);
        RopeRotation.Forward(a.K.AsSpan(), BT, SeqLen, _kvHeads, _headDim, _rotDim, _cos, _sin, _kScale);
        FlashAttention.Forward(a.Att.AsSpan(), a.Lse, a.Q, a.K, a.V, _shape, seg, AttentionTileSize);
        Linear.Forward(_proj.AsSpan(), a.Att, P(o.Wo, dim * _qDim), BT, _qDim, dim);
        if (_lora is not null) LoraForward(l, TensorRole.Wo, _proj, a.Att);
        ResidualRmsNormLayer.Forward(a.ResMid.AsSpan(), a.Ln2, a.Rstd2, _res[l], _proj, P(o.FfnNorm, dim), BT, eps);
        Linear.Forward(a.Gate.AsSpan(), a.Ln2, P(o.WGate, _hid * dim), BT, dim, _hid);
        Linear.Forward(a.Up.AsSpan(), a.Ln2, P(o.WUp, _hid * dim), BT, dim, _hid);
        if (_lora is not null)
        {
            LoraForward(l, TensorRole.WGate, a.Gate, a.Ln2);
            LoraForward(l, TensorRole.WUp, a.Up, a.Ln2);
        }
        SwiGluLayer.Forward(a.H.AsSpan(), a.Gate, a.Up);
        Linear.Forward(_proj.AsSpan(), a.H, P(o.WDown, dim * _hid), BT, _hid, dim);
        if (_lora is not null) LoraForward(l, TensorRole.WDown, _proj, a.H);
        if (recompute) return;
        if (l + 1 < _off.Length)
        {
            // Under checkpointing _acts[l + 1] is _acts[l]: overwriting its Ln1 is fine here, layer l is recomputed
            // before its backward.
            var next = _acts[l + 1];
            ResidualRmsNormLayer.Forward(_res[l + 1].AsSpan(), next.Ln1, next.Rstd1, a.ResMid, _proj, P(_off[l + 1].AttnNorm, dim), BT, eps);
        }
        else ResidualRmsNormLayer.Forward(_res[l + 1].AsSpan(), _lnf, _rstdf, a.ResMid, _proj, P(_finalNorm, dim), BT, eps);
    }

    /// <summary>Adds the gradient of the last forward's loss (the mean, or the weighted sum) to <see cref="Gradients"/> (or, with adapters, to <see cref="LoraGradients"/>).</summary>
    public void Backward()
    {
        if (!_forwardDone) throw new InvalidOperationException("Backward needs a Forward first (each Forward allows one Backward)");
        _forwardDone = false;
        int BT = _rows, L = _off.Length, dim = _dim;

        // The logits buffer becomes dLogits in place: the fused softmax+CE never stores probabilities.
        if (_weighted) CrossEntropy.BackwardWeighted<T>(_logits.AsSpan(), _logits, _ceLse, _targets, _lossWeights, BT, _vocab, IgnoreIndex);
        else CrossEntropy.Backward(_logits.AsSpan(), _logits, _ceLse, _targets, BT, _vocab, T.One, IgnoreIndex);
        Array.Clear(_dLn);
        LinearBackward(_dLn, _classifier, _logits, _lnf, BT, dim, _vocab);
        Array.Clear(_dRes);
        ResidualRmsNormLayer.Backward(_dRes.AsSpan(), NormGrad(_finalNorm), _dLn, _res[L], P(_finalNorm, dim), _rstdf, BT);
        for (int l = L - 1; l >= 0; l--)
        {
            // Checkpointing: refill the shared activation buffers from the stored layer input. The last layer's are
            // still there from the forward (its closing add wrote only _res[L] and the final norm).
            if (GradientCheckpointing && l < L - 1) LayerForward(l, recompute: true);
            LayerBackward(l);
        }
        if (TrainBase) Embedding.Backward(G(_tokEmb, _vocab * dim), _dRes, _inputs, dim);
    }

    /// <summary>dX += dY·W always; dW += dYᵀ·X only while the base trains.</summary>
    private void LinearBackward(Span<T> dx, int weightOffset, ReadOnlySpan<T> dy, ReadOnlySpan<T> x, int rows, int inDim, int outDim)
    {
        var w = P(weightOffset, outDim * inDim);
        if (TrainBase) Linear.Backward(dx, G(weightOffset, outDim * inDim), dy, x, w, rows, inDim, outDim);
        else MatrixProducts.AccumulateInputGradient(dx, dy, w, rows, inDim, outDim);
    }

    /// <summary>Where a norm gain's gradient goes: its slot in <see cref="Gradients"/>, or a scratch row when the base is frozen.</summary>
    private Span<T> NormGrad(int offset) => TrainBase ? G(offset, _dim) : _discard.AsSpan(0, _dim);

    /// <summary>Layer l's backward: _dRes holds dL/d_res[l+1] on entry and dL/d_res[l] on exit.</summary>
    private void LayerBackward(int l)
    {
        int BT = _rows, dim = _dim;
        var o = _off[l];
        var a = _acts[l];
        bool lora = _lora is not null;
        ReadOnlySpan<int> seg = _hasSegments ? _segments : default;
        // MLP: res[l+1] = resMid + down(silu(gate(ln2)) ⊙ up(ln2)); dRes holds dL/dres[l+1].
        Array.Clear(_dH);
        LinearBackward(_dH, o.WDown, _dRes, a.H, BT, _hid, dim);
        if (lora) LoraBackward(l, TensorRole.WDown, _dRes, a.H, _dH);
        SwiGluLayer.BackwardOverwrite(_dGate.AsSpan(), _dUp, _dH, a.Gate, a.Up);
        Array.Clear(_dLn);
        LinearBackward(_dLn, o.WGate, _dGate, a.Ln2, BT, dim, _hid);
        LinearBackward(_dLn, o.WUp, _dUp, a.Ln2, BT, dim, _hid);
        if (lora)
        {
            LoraBackward(l, TensorRole.WGate, _dGate, a.Ln2, _dLn);
            LoraBackward(l, TensorRole.WUp, _dUp, a.Ln2, _dLn);
        }
        ResidualRmsNormLayer.Backward(_dRes.AsSpan(), NormGrad(o.FfnNorm), _dLn, a.ResMid, P(o.FfnNorm, dim), a.Rstd2, BT);
        // Attention: resMid = res[l] + Wo(attn(rope(q), rope(k), v)); dRes now holds dL/dresMid.
        Array.Clear(_dAtt);
        LinearBackward(_dAtt, o.Wo, _dRes, a.Att, BT, _qDim, dim);
        if (lora) LoraBackward(l, TensorRole.Wo, _dRes, a.Att, _dAtt);
        Array.Clear(_dq); Array.Clear(_dk); Array.Clear(_dv);
        FlashAttention.Backward(_dq.AsSpan(), _dk, _dv, _dAtt, a.Q, a.K, a.V, a.Att, a.Lse, _shape, seg, AttentionTileSize);
        RopeRotation.Backward(_dq.AsSpan(), BT, SeqLen, _heads, _headDim, _rotDim, _cos, _sin, _qScale);
        RopeRotation.Backward(_dk.AsSpan(), BT, SeqLen, _kvHeads, _headDim, _rotDim, _cos, _sin, _kScale);
        Array.Clear(_dLn);
        LinearBackward(_dLn, o.Wq, _dq, a.Ln1, BT, dim, _qDim);
        LinearBackward(_dLn, o.Wk, _dk, a.Ln1, BT, dim, _kvDim);
        LinearBackward(_dLn, o.Wv, _dv, a.Ln1, BT, dim, _kvDim);
        if (lora)
        {
            LoraBackward(l, TensorRole.Wq, _dq, a.Ln1, _dLn);
            LoraBackward(l, TensorRole.Wk, _dk, a.Ln1, _dLn);
            LoraBackward(l, TensorRole.Wv, _dv, a.Ln1, _dLn);
        }
        ResidualRmsNormLayer.Backward(_dRes.AsSpan(), NormGrad(o.AttnNorm), _dLn, _res[l], P(o.AttnNorm, dim), a.Rstd1, BT);
    }

    private ReadOnlySpan<T> P(int offset, int length) => Parameters.AsSpan(offset, length);
    private Span<T> G(int offset, int length) => Gradients.AsSpan(offset, length);
}
