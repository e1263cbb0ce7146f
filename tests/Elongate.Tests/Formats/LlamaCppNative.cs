namespace Elongate.Tests.Formats;

/// <summary>llama.cpp loaded once (through the oracle's configuration) and calls into its global state serialised.</summary>
internal static class LlamaCppNative
{
    /// <summary>Held while calling into llama.cpp; its global state is not meant for concurrent test classes.</summary>
    public static readonly object Lock = new();

    public static void EnsureLoaded() => Oracles.LlamaCppOracle.EnsureNativeLibrary();
}
