using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;

namespace Elongate.Kernels;

/// <summary>
/// What the kernels need to know about the host CPU, read once per process (<see cref="Current"/>): model name, cache
/// sizes and the vector instruction sets. Cache sizes come from Linux's /sys/devices/system/cpu/cpu0/cache (level, type,
/// size and the CPUs sharing each cache), else from CPUID's deterministic cache parameters (leaf 4 on Intel,
/// 0x8000001D on AMD), else <see cref="CacheSizes.Fallback"/>; <see cref="CacheSource"/> says which. <see cref="Gemm"/>
/// derives its cache blocking from <see cref="Caches"/> (see <see cref="Gemm.Blocking"/>), so one build runs well on
/// hosts with 1 MiB and with 2 MiB of L2 per core.
/// </summary>
public sealed class CpuInfo
{
    private static readonly Lazy<CpuInfo> s_current = new(Detect, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The host, detected on first use.</summary>
    public static CpuInfo Current => s_current.Value;

    /// <summary>"model name" of /proc/cpuinfo, else CPUID's brand string, else the OS description.</summary>
    public required string ModelName { get; init; }

    /// <summary>CPUID family and model (display values, e.g. 25/17 is AMD Zen 4 "Genoa"), or null off x86. Hypervisors
    /// often hide the model name ("AMD EPYC"); these still tell the core generation.</summary>
    public (int Family, int Model)? FamilyModel { get; init; }

    /// <summary>Cache capacities per core (L3: the share of this process's CPUs).</summary>
    public required CacheSizes Caches { get; init; }

    /// <summary>Where <see cref="Caches"/> came from: "sysfs", "cpuid" or "fallback".</summary>
    public required string CacheSource { get; init; }

    /// <summary>Logical CPUs this process may run on.</summary>
    public int LogicalCores { get; init; } = Environment.ProcessorCount;

    /// <summary>AVX-512 Foundation, usable (the OS saves the zmm state).</summary>
    public bool Avx512F { get; init; }

    /// <summary>AVX2 and FMA3, usable.</summary>
    public bool Avx2Fma { get; init; }

    /// <summary>AVX-512 BF16 (vdpbf16ps, vcvtne2ps2bf16): CPUID.(7,1):EAX[5]. Reported only; no kernel uses it yet.</summary>
    public bool Avx512Bf16 { get; init; }

    /// <summary>AVX-512 FP16 arithmetic: CPUID.(7,0):EDX[23]. Reported only; no kernel uses it yet.</summary>
    public bool Avx512Fp16 { get; init; }

    /// <summary>AVX-512 VNNI (vpdpbusd on zmm): CPUID.(7,0):ECX[11].</summary>
    public bool Avx512Vnni { get; init; }

    /// <summary>One line for benchmark headers and result files.</summary>
    public override string ToString()
    {
        var isa = new List<string>();
        if (Avx512F) isa.Add("AVX-512F");
        if (Avx2Fma) isa.Add("AVX2+FMA");
        if (Avx512Vnni) isa.Add("AVX512-VNNI");
        if (Avx512Bf16) isa.Add("AVX512-BF16");
        if (Avx512Fp16) isa.Add("AVX512-FP16");
        string fm = FamilyModel is { } f ? $" (family {f.Family}, model {f.Model})" : "";
        return $"{ModelName}{fm}, {LogicalCores} logical cores; {Caches} [{CacheSource}]; {(isa.Count == 0 ? "no SIMD paths" : string.Join(' ', isa))}";
    }

    private static CpuInfo Detect()
    {
        int cpus = Environment.ProcessorCount;
        string source = "fallback";
        CacheSizes? caches = ReadSysfs("/sys/devices/system/cpu/cpu0/cache", cpus);
        if (caches is not null) source = "sysfs";
        else if ((caches = ReadCpuid(cpus)) is not null) source = "cpuid";
        bool bf16 = false, fp16 = false, vnni = false;
        (int, int)? familyModel = null;
        if (X86Base.IsSupported)
        {
            var (maxLeaf, _, _, _) = X86Base.CpuId(0, 0);
            if (maxLeaf >= 7)
            {
                var (_, _, ecx7, edx7) = X86Base.CpuId(7, 0);
                var (eax71, _, _, _) = X86Base.CpuId(7, 1);
                // Usable only if the OS enabled the zmm state, which is what Avx512F.IsSupported checks (XCR0).
                bool os512 = System.Runtime.Intrinsics.X86.Avx512F.IsSupported;
                vnni = os512 && (ecx7 & (1 << 11)) != 0;
                fp16 = os512 && (edx7 & (1 << 23)) != 0;
                bf16 = os512 && (eax71 & (1 << 5)) != 0;
            }
            var (eax1, _, _, _) = X86Base.CpuId(1, 0);
            int baseFamily = (eax1 >> 8) & 0xF, baseModel = (eax1 >> 4) & 0xF;
            int family = baseFamily == 0xF ? baseFamily + ((eax1 >> 20) & 0xFF) : baseFamily;
            int model = baseFamily is 0x6 or 0xF ? baseModel | (((eax1 >> 16) & 0xF) << 4) : baseModel;
            familyModel = (family, model);
        }
        return new CpuInfo
        {
            ModelName = ReadModelName(),
            FamilyModel = familyModel,
            Caches = caches ?? CacheSizes.Fallback,
            CacheSource = source,
            LogicalCores = cpus,
            Avx512F = System.Runtime.Intrinsics.X86.Avx512F.IsSupported,
            Avx2Fma = Avx2.IsSupported && Fma.IsSupported,
            Avx512Bf16 = bf16,
            Avx512Fp16 = fp16,
            Avx512Vnni = vnni,
        };
    }

    private static string ReadModelName()
    {
        try
        {
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                    if (line.StartsWith("model name", StringComparison.Ordinal)) return line[(line.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        if (X86Base.IsSupported && (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax >= 0x80000004)
        {
            Span<int> regs = stackalloc int[12];
            for (int i = 0; i < 3; i++)
            {
                var (a, b, c, d) = X86Base.CpuId(unchecked((int)0x80000002) + i, 0);
                regs[4 * i] = a; regs[4 * i + 1] = b; regs[4 * i + 2] = c; regs[4 * i + 3] = d;
            }
            string brand = System.Text.Encoding.ASCII.GetString(MemoryMarshal.AsBytes(regs)).TrimEnd('\0').Trim();
            if (brand.Length > 0) return brand;
        }
        return RuntimeInformation.OSDescription;
    }

    /// <summary>
    /// Per-core cache sizes from a Linux cache directory (…/cpu0/cache holding index0, index1, … with level, type, size,
    /// shared_cpu_list): L1d and L2 divided by the CPUs sharing them, L3 scaled to the part of its sharers this process
    /// may use (<paramref name="usableCpus"/>). Null when the directory is missing or names no L1d or L2.
    /// </summary>
    internal static CacheSizes? ReadSysfs(string cacheDir, int usableCpus)
    {
        try
        {
            if (!Directory.Exists(cacheDir)) return null;
            long l1 = 0, l2 = 0, l3 = 0;
            foreach (var dir in Directory.EnumerateDirectories(cacheDir, "index*"))
            {
                string? Read(string name)
                {
                    string path = Path.Combine(dir, name);
                    return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
                }
                if (!int.TryParse(Read("level"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int level)) continue;
                string? type = Read("type");
                if (type is null || type == "Instruction") continue;
                long size = ParseSize(Read("size"));
                if (size <= 0) continue;
                int sharers = Math.Max(1, CountCpus(Read("shared_cpu_list")));
                switch (level)
                {
                    case 1: l1 = size / sharers; break;
                    case 2: l2 = size / sharers; break;
                    case 3: l3 = size * Math.Min(sharers, Math.Max(1, usableCpus)) / sharers; break;
                }
            }
            return l1 > 0 && l2 > 0 ? new CacheSizes(l1, l2, l3) : null;
        }
        catch (IOException) { return null; }
        catch (UnauthorizedAccessException) { return null; }
    }

    /// <summary>"32K", "1024K", "32M", "65536" → bytes; 0 when unreadable.</summary>
    internal static long ParseSize(string? s)
    {
        if (string.IsNullOrWhiteSpace(s)) return 0;
        s = s.Trim();
        long unit = 1;
        char last = char.ToUpperInvariant(s[^1]);
        if (last is 'K' or 'M' or 'G')
        {
            unit = last switch { 'K' => 1L << 10, 'M' => 1L << 20, _ => 1L << 30 };
            s = s[..^1];
        }
        return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v) && v > 0 ? v * unit : 0;
    }

    /// <summary>Number of CPUs in a Linux CPU list such as "0-3,8,10-11"; 0 when unreadable.</summary>
    internal static int CountCpus(string? list)
    {
        if (string.IsNullOrWhiteSpace(list)) return 0;
        int count = 0;
        foreach (var part in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-');
            if (dash < 0) { if (int.TryParse(part, CultureInfo.InvariantCulture, out _)) count++; else return 0; }
            else if (int.TryParse(part[..dash], CultureInfo.InvariantCulture, out int a) && int.TryParse(part[(dash + 1)..], CultureInfo.InvariantCulture, out int b) && b >= a)
                count += b - a + 1;
            else return 0;
        }
        return count;
    }

    /// <summary>
    /// Cache sizes from CPUID's deterministic cache parameters (Intel leaf 4, AMD leaf 0x8000001D with TOPOEXT):
    /// size = ways·partitions·line·sets; sharing from EAX[25:14] (threads sharing the cache, minus one).
    /// </summary>
    private static CacheSizes? ReadCpuid(int usableCpus)
    {
        if (!X86Base.IsSupported) return null;
        var (maxLeaf, ebx0, ecx0, edx0) = X86Base.CpuId(0, 0);
        bool amd = ebx0 == 0x68747541 && edx0 == 0x69746e65 && ecx0 == 0x444d4163; // "AuthenticAMD"
        int leaf;
        if (amd)
        {
            uint maxExt = (uint)X86Base.CpuId(unchecked((int)0x80000000), 0).Eax;
            bool topoext = maxExt >= 0x80000001 && (X86Base.CpuId(unchecked((int)0x80000001), 0).Ecx & (1 << 22)) != 0;
            if (!topoext || maxExt < 0x8000001D) return null;
            leaf = unchecked((int)0x8000001D);
        }
        else if (maxLeaf >= 4) leaf = 4;
        else return null;
        long l1 = 0, l2 = 0, l3 = 0;
        for (int sub = 0; sub < 16; sub++)
        {
            var (eax, ebx, ecx, _) = X86Base.CpuId(leaf, sub);
            int type = eax & 0x1F;
            if (type == 0) break;
            if (type == 2) continue; // instruction cache
            int level = (eax >> 5) & 0x7;
            int sharers = ((eax >> 14) & 0xFFF) + 1;
            long size = (long)(((ebx >> 22) & 0x3FF) + 1) * (((ebx >> 12) & 0x3FF) + 1) * ((ebx & 0xFFF) + 1) * ((long)(uint)ecx + 1);
            switch (level)
            {
                case 1: l1 = size / sharers; break;
                case 2: l2 = size / sharers; break;
                case 3: l3 = size * Math.Min(sharers, Math.Max(1, usableCpus)) / sharers; break;
            }
        }
        return l1 > 0 && l2 > 0 ? new CacheSizes(l1, l2, l3) : null;
    }
}
