using System.Diagnostics;
using Elongate.Formats;
using Elongate.Common;

namespace Elongate.Tests.Formats;

/// <summary>
/// Seeded header corruption (<see cref="HeaderMutator"/>) through the GGUF reader and the Llama loader: every mutant
/// must load or fail with <see cref="ModelFormatException"/>, never another exception, a hang or a huge allocation.
/// </summary>
public class GgufMutationTests
{
    [Fact]
    public void TenThousandHeaderMutationsOfASmallModel()
    {
        var valid = GgufTestModels.SmallModelBytes(GgufOutputType.F16);
        int header;
        using (var f = GgufFile.FromBytes(valid)) header = (int)f.DataOffset;
        var sw = Stopwatch.StartNew();
        int rejected = HeaderMutator.Run(valid, header, 10_000, seed: 20261126, bytes =>
        {
            using var f = GgufFile.FromBytes(bytes, "mutant.gguf");
            GgufModelLoader.Load(f);
        });
        // Most mutants must be caught; some (a flipped bit in a score or a name's letter) are still valid files.
        Assert.InRange(rejected, 5_000, 10_000);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(20), $"took {sw.Elapsed}");
    }

    [Fact]
    public void TenThousandHeaderMutationsOfEveryValueType()
    {
        var valid = GgufRoundTripTests.EveryTypeWriter().ToArray();
        int header;
        using (var f = GgufFile.FromBytes(valid)) header = (int)f.DataOffset;
        int rejected = HeaderMutator.Run(valid, header, 10_000, seed: 7, bytes =>
        {
            using var f = GgufFile.FromBytes(bytes, "mutant.gguf");
            foreach (var t in f.Tensors) f.DequantizeTensor(t);
        });
        Assert.InRange(rejected, 3_000, 10_000);
    }
}
