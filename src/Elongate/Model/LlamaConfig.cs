using Elongate.Common;

namespace Elongate.Model;

/// <summary>
/// Hyper-parameters of a Llama-2-style decoder. Field names follow Hugging Face's LlamaConfig where one exists,
/// so a reader of config.json can map them one to one.
/// </summary>
public sealed record LlamaConfig
{
    /// <summary>Model width (hidden_size, llama2.c "dim", GGUF embedding_length).</summary>
    public required int HiddenSize { get; init; }

    /// <summary>SwiGLU inner width (intermediate_size, llama2.c "hidden_dim", GGUF feed_forward_length).</summary>
    public required int IntermediateSize { get; init; }

    public required int NumLayers { get; init; }
    public required int NumHeads { get; init; }

    /// <summary>Key/value heads for grouped-query attention; must divide <see cref="NumHeads"/>.</summary>
    public required int NumKvHeads { get; init; }

    public required int VocabSize { get; init; }

    /// <summary>Context length the model was trained for (max_position_embeddings, GGUF context_length).</summary>
    public required int MaxPositionEmbeddings { get; init; }

    public float RmsNormEps { get; init; } = 1e-5f;

    /// <summary>RoPE base frequency θ; Llama 2 uses 10,000 and the paper's ABF raises it to 500,000.</summary>
    public float RopeTheta { get; init; } = 10000f;

    /// <summary>
    /// RoPE scaling (Position Interpolation, NTK, dynamic NTK, YaRN, Llama 3, LongRoPE, xPos); null means plain RoPE
    /// with <see cref="RopeTheta"/> (which is also ABF when the base is raised).
    /// </summary>
    public Rope.RopeScaling? RopeScaling { get; init; }

    /// <summary>Number of leading dimensions of each head that are rotated (GGUF rope.dimension_count); defaults to the head size.</summary>
    public int? RopeDimensionCount { get; init; }

    /// <summary>True when the output head shares the token-embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }

    public int BosTokenId { get; init; } = 1;
    public int EosTokenId { get; init; } = 2;

    /// <summary>Size of one attention head.</summary>
    public int HeadDim => HiddenSize / NumHeads;

    /// <summary>Rotated part of each head.</summary>
    public int RotaryDim => RopeDimensionCount ?? HeadDim;

    /// <summary>Width of the key and value projections.</summary>
    public int KvDim => HeadDim * NumKvHeads;

    /// <summary>
    /// Checks the invariants the forward pass relies on, so a bad file is reported at load time, not as an
    /// index error deep in a kernel. <paramref name="source"/> names the file in the error.
    /// </summary>
    public void Validate(string source)
    {
        void Fail(string key, string problem) => throw new Common.ModelFormatException(source, problem, key: key);
        if (HiddenSize <= 0) Fail("hidden_size", $"must be positive, got {HiddenSize}");
        if (IntermediateSize <= 0) Fail("intermediate_size", $"must be positive, got {IntermediateSize}");
        if (NumLayers <= 0) Fail("num_hidden_layers", $"must be positive, got {NumLayers}");
        if (NumHeads <= 0) Fail("num_attention_heads", $"must be positive, got {NumHeads}");
        if (NumKvHeads <= 0) Fail("num_key_value_heads", $"must be positive, got {NumKvHeads}");
        if (VocabSize <= 0) Fail("vocab_size", $"must be positive, got {VocabSize}");
        if (MaxPositionEmbeddings <= 0) Fail("max_position_embeddings", $"must be positive, got {MaxPositionEmbeddings}");
        if (HiddenSize % NumHeads != 0) Fail("num_attention_heads", $"{NumHeads} heads do not divide hidden size {HiddenSize}");
        if (NumHeads % NumKvHeads != 0) Fail("num_key_value_heads", $"{NumKvHeads} key/value heads do not divide {NumHeads} heads");
        if (HeadDim % 2 != 0) Fail("hidden_size", $"head size {HeadDim} must be even for RoPE");
        if (RotaryDim <= 0 || RotaryDim > HeadDim || RotaryDim % 2 != 0)
            Fail("rope.dimension_count", $"rotary dimension {RotaryDim} must be even and within the head size {HeadDim}");
        if (!(RopeTheta > 1f) || float.IsInfinity(RopeTheta)) Fail("rope_theta", $"must be a finite number above 1, got {RopeTheta}");
        RopeScaling?.Validate(source, MaxPositionEmbeddings, RotaryDim);
        if (!(RmsNormEps > 0f) || float.IsInfinity(RmsNormEps)) Fail("rms_norm_eps", $"must be a small positive number, got {RmsNormEps}");
    }
}
