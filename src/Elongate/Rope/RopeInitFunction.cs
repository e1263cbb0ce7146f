namespace Elongate.Rope;

/// <summary>
/// One entry of <see cref="RopeTypes.Table"/>: computes the frequencies of one RoPE type, like the functions in
/// transformers' ROPE_INIT_FUNCTIONS. <paramref name="currentLength"/> is the number of positions the frequencies must
/// serve (only dynamic and longrope look at it).
/// </summary>
public delegate RopeFrequencies RopeInitFunction(double ropeBase, int rotaryDim, RopeScaling scaling, int currentLength);
