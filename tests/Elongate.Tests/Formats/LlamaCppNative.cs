using LLama.Native;

namespace Elongate.Tests.Formats;

/// <summary>Loads llama.cpp (LLamaSharp's CPU backend) once, silenced, and serialises calls into it.</summary>
internal static class LlamaCppNative
{
    /// <summary>Held while calling into llama.cpp; its global state is not meant for concurrent test classes.</summary>
    public static readonly object Lock = new();

    private static readonly Lazy<bool> Loaded = new(() =>
    {
        try { NativeLibraryConfig.All.WithLogCallback((_, _) => { }); }
        catch (Exception) { /* already loaded elsewhere: logging stays as configured there */ }
        NativeApi.llama_empty_call(); // runs LLamaSharp's library resolver before any direct P/Invoke (the quantizer has none of its own)
        return true;
    });

    public static void EnsureLoaded() => _ = Loaded.Value;
}
