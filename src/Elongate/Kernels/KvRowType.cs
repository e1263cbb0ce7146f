namespace Elongate.Kernels;

/// <summary>How a key/value cache row is stored for <see cref="FlashAttention"/>.</summary>
public enum KvRowType
{
    /// <summary>fp32 (or the kernel's own element type), read in place.</summary>
    Dense,
    /// <summary>IEEE half per value.</summary>
    F16,
    /// <summary>Q8_0 blocks of 32 values (fp16 scale + 32 int8); heads must be whole blocks.</summary>
    Q8_0,
}
