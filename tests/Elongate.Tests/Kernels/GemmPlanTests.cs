using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>
/// The cache-blocking rule of <see cref="GemmPlan.Create"/> and the cache detection of <see cref="CpuInfo"/>: different
/// cache sizes give the blocks the rule promises (A block in half of L2, KC/MC balancing C against B traffic, B panel in
/// a quarter of the L3 share), and /sys cache directories are read as Linux writes them.
/// </summary>
public class GemmPlanTests
{
    [Fact]
    public void Larger_L2_gives_deeper_and_taller_A_blocks()
    {
        var small = GemmPlan.Create(GemmIsa.Avx512, new CacheSizes(48 << 10, 1 << 20, 32 << 20));
        var large = GemmPlan.Create(GemmIsa.Avx512, new CacheSizes(48 << 10, 2 << 20, 32 << 20));
        // 1 MiB: A block of half of it is 131072 floats; KC 512 → MC 256 → 252 (a multiple of the 12-row tile).
        Assert.Equal((12, 32, 252, 512), (small.MR, small.NR, small.MC, small.KC));
        // 2 MiB: 262144 floats; 1/MC + 2/KC is smallest at KC 768 (MC 336) among multiples of 256.
        Assert.Equal((336, 768), (large.MC, large.KC));
        foreach (var p in new[] { small, large })
        {
            Assert.True((long)p.MC * p.KC * 4 <= p.Caches.L2 / 2, "A block exceeds half of L2");
            Assert.Equal(0, p.MC % p.MR);
            Assert.Equal(0, p.KC % GemmPlan.KcGranule);
        }
        // A small L2 (256 KiB) falls back to the shallowest KC the quantized path allows.
        var tiny = GemmPlan.Create(GemmIsa.Avx512, new CacheSizes(32 << 10, 256 << 10, 0));
        Assert.Equal((120, 256), (tiny.MC, tiny.KC));
    }

    [Fact]
    public void Register_tile_follows_the_instruction_set()
    {
        var caches = new CacheSizes(32 << 10, 1 << 20, 32 << 20);
        var avx2 = GemmPlan.Create(GemmIsa.Avx2, caches);
        Assert.Equal((6, 16, 252, 512), (avx2.MR, avx2.NR, avx2.MC, avx2.KC));
        var scalar = GemmPlan.Create(GemmIsa.Scalar, caches);
        Assert.Equal((4, 4, 256, 512), (scalar.MR, scalar.NR, scalar.MC, scalar.KC));
    }

    /// <summary>
    /// The rule budgets bytes: bf16's 2-byte packed elements fit twice as many in the same L2 half and L3 quarter, so a
    /// 1 MiB L2 gets the A block a 2 MiB L2 gets in fp32 (KC 768, MC 336), and the B panel twice the elements.
    /// </summary>
    [Fact]
    public void Bf16_blocks_hold_twice_the_elements_in_the_same_bytes()
    {
        var caches = new CacheSizes(48 << 10, 1 << 20, 32 << 20);
        var fp32 = GemmPlan.Create(GemmIsa.Avx512, caches);
        var bf16 = GemmPlan.Create(GemmIsa.Avx512, caches, GemmPrecision.Bf16);
        var fp32Large = GemmPlan.Create(GemmIsa.Avx512, caches with { L2 = 2 << 20 });
        Assert.Equal((4, 2), (fp32.ElementBytes, bf16.ElementBytes));
        Assert.Equal((252, 512), (fp32.MC, fp32.KC));
        Assert.Equal((fp32Large.MC, fp32Large.KC), (bf16.MC, bf16.KC));
        Assert.Equal((336, 768), (bf16.MC, bf16.KC));
        Assert.True((long)bf16.MC * bf16.KC * 2 <= caches.L2 / 2);
        Assert.True((long)bf16.MC * bf16.KC > (long)fp32.MC * fp32.KC * 3 / 2, "bf16 A block should hold about twice the elements");
        // B panel: 8 MiB / (768·2 B) = 5461 → 5440 columns (a multiple of 32); fp32 gets 8 MiB / (512·4 B) = 4096.
        Assert.Equal(5440, bf16.NC);
        Assert.Equal(4096, fp32.NC);
        Assert.True((long)bf16.KC * bf16.NC * 2 <= caches.L3 / 4);
        // Same depth, same L3 → exactly twice the columns.
        Assert.Equal(2 * fp32.NC, GemmPlan.Create(GemmIsa.Avx512, caches, GemmPrecision.Bf16, kc: 512).NC);
        Assert.Equal(GemmPrecision.Bf16, bf16.Describe().Precision);
        Assert.Contains("bf16", bf16.Describe().ToString());
        Assert.Contains("A block 504 KiB", bf16.Describe().ToString()); // 336·768·2 B
    }

    [Fact]
    public void B_panel_takes_a_quarter_of_the_L3_share()
    {
        var caches = new CacheSizes(48 << 10, 1 << 20, 32 << 20);
        Assert.Equal(4096, GemmPlan.Create(GemmIsa.Avx512, caches).NC); // 8 MiB / (512·4 B)
        Assert.Equal(1024, GemmPlan.Create(GemmIsa.Avx512, caches with { L3 = 8 << 20 }).NC);
        Assert.Equal(8192, GemmPlan.Create(GemmIsa.Avx512, caches with { L3 = 1 << 30 }).NC); // capped
        Assert.Equal(256, GemmPlan.Create(GemmIsa.Avx512, caches with { L3 = 0 }).NC);       // half of L2 / (512·4 B)
    }

    [Fact]
    public void Reads_linux_cache_directories()
    {
        string dir = Path.Combine(Path.GetTempPath(), "elongate-cache-" + Guid.NewGuid().ToString("N"));
        try
        {
            void Index(int i, int level, string type, string size, string shared)
            {
                string d = Path.Combine(dir, "index" + i);
                Directory.CreateDirectory(d);
                File.WriteAllText(Path.Combine(d, "level"), level + "\n");
                File.WriteAllText(Path.Combine(d, "type"), type + "\n");
                File.WriteAllText(Path.Combine(d, "size"), size + "\n");
                File.WriteAllText(Path.Combine(d, "shared_cpu_list"), shared + "\n");
            }
            // An SMT host: L1/L2 shared by two hyperthreads, L3 by 16 CPUs of which this process may use 4.
            Index(0, 1, "Data", "48K", "0,64");
            Index(1, 1, "Instruction", "32K", "0,64");
            Index(2, 2, "Unified", "2048K", "0,64");
            Index(3, 3, "Unified", "96M", "0-7,64-71");
            var c = CpuInfo.ReadSysfs(dir, usableCpus: 4);
            Assert.Equal(new CacheSizes(24 << 10, 1 << 20, 24 << 20), c);
            Assert.Null(CpuInfo.ReadSysfs(Path.Combine(dir, "missing"), 4));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Theory]
    [InlineData("0", 1)]
    [InlineData("0-1", 2)]
    [InlineData("0-7,64-71", 16)]
    [InlineData("3,5,9-10", 4)]
    [InlineData("", 0)]
    [InlineData("x", 0)]
    public void Counts_cpu_lists(string list, int expected) => Assert.Equal(expected, CpuInfo.CountCpus(list));

    [Theory]
    [InlineData("32K", 32L << 10)]
    [InlineData("1024K", 1L << 20)]
    [InlineData("32M", 32L << 20)]
    [InlineData("65536", 65536L)]
    [InlineData("", 0L)]
    [InlineData("big", 0L)]
    public void Parses_cache_sizes(string text, long expected) => Assert.Equal(expected, CpuInfo.ParseSize(text));

    [Fact]
    public void Host_plan_uses_detected_caches()
    {
        var cpu = CpuInfo.Current;
        Assert.False(string.IsNullOrWhiteSpace(cpu.ModelName));
        Assert.True(cpu.Caches.L1Data > 0 && cpu.Caches.L2 > 0);
        var blocking = Gemm.Blocking();
        Assert.Equal(Gemm.BestIsa, blocking.Isa);
        if (Environment.GetEnvironmentVariable(GemmPlan.OverrideVariable) is null)
            Assert.Equal(GemmPlan.Create(Gemm.BestIsa, cpu.Caches).KC, blocking.KC);
    }
}
