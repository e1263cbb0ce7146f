using BenchmarkDotNet.Attributes;
using Elongate.Kernels;

namespace Elongate.Bench;

/// <summary>BenchmarkDotNet view of the shapes where call overhead matters: small GEMMs and the one-token GEMV
/// (run with `-- --filter '*GemmMicro*'`). Throughput against OpenBLAS is the `gemm` subcommand's job.</summary>
[MemoryDiagnoser]
public class GemmMicroBenchmarks
{
    private float[] _a = [], _w = [], _c = [];

    [Params(1, 16, 64)]
    public int Rows { get; set; }

    [Params(256, 1024)]
    public int Dim { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1);
        _a = Enumerable.Range(0, Rows * Dim).Select(_ => (float)rng.NextDouble()).ToArray();
        _w = Enumerable.Range(0, Dim * Dim).Select(_ => (float)rng.NextDouble()).ToArray();
        _c = new float[Rows * Dim];
    }

    /// <summary>y = x·Wᵀ as the model's linear layers call it.</summary>
    [Benchmark]
    public void LinearForward() => Gemm.NT(_c, _a, _w, Rows, Dim, Dim);
}
