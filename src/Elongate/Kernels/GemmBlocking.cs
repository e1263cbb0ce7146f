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
public readonly record struct GemmBlocking(GemmIsa Isa, int MR, int NR, int MC, int KC, int NC, CacheSizes Caches, string Origin)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Isa} tile {MR}×{NR}, MC {MC} KC {KC} NC {NC} (A block {(long)MC * KC * 4 >> 10} KiB, B panel {(long)KC * NC * 4 >> 10} KiB; {Origin} from {Caches})";
}
