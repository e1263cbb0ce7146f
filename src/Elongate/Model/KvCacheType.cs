namespace Elongate.Model;

/// <summary>How the key/value cache stores its rows (llama.cpp's --cache-type-k/-v).</summary>
public enum KvCacheType
{
    /// <summary>fp32: exact, 4 bytes per value.</summary>
    F32,
    /// <summary>IEEE half: 2 bytes per value, ~3 decimal digits (llama.cpp's default).</summary>
    F16,
    /// <summary>Q8_0 blocks of 32 values: 1.0625 bytes per value; needs a kv width that is a multiple of 32.</summary>
    Q8_0,
}
