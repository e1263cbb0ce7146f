namespace Elongate.Kernels;

/// <summary>
/// The register tile and cache blocks <see cref="Gemm"/> uses on one instruction-set path (see <see cref="Gemm.Blocking"/>).
/// </summary>
/// <param name="Isa">The kernel path.</param>
/// <param name="MR">Rows of the register tile.</param>
/// <param name="NR">Columns of the register tile.</param>
/// <param name="MC">Rows of a packed block of A (kept in L2).</param>
/// <param name="KC">Depth of the packed blocks (the k extent of one pass over C).</param>
/// <param name="NC">Columns of the packed panel of B shared by all threads (kept in L3).</param>
/// <param name="Caches">The cache sizes the blocks were derived from.</param>
/// <param name="Origin">"cache rule", or the environment variable that overrode it.</param>
/// <param name="Precision">Format of the packed blocks (their bytes per element).</param>
public readonly record struct GemmBlocking(GemmIsa Isa, int MR, int NR, int MC, int KC, int NC, CacheSizes Caches, string Origin,
    GemmPrecision Precision = GemmPrecision.Fp32)
{
    /// <inheritdoc/>
    public override string ToString()
    {
        int e = Precision == GemmPrecision.Bf16 ? 2 : 4;
        string format = Precision == GemmPrecision.Fp32 ? "" : $" {Precision.ToString().ToLowerInvariant()}";
        return $"{Isa}{format} tile {MR}×{NR}, MC {MC} KC {KC} NC {NC} (A block {(long)MC * KC * e >> 10} KiB, B panel {(long)KC * NC * e >> 10} KiB; {Origin} from {Caches})";
    }
}
