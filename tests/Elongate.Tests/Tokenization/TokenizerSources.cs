using System.Collections.Concurrent;
using Elongate.Tokenization;
using Elongate.Formats;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// Every way of getting the Llama 2 tokenizer, by name, so conformance tests run as a theory over sources.
/// Adding a source (e.g. GGUF) is one line in <see cref="Factories"/>.
/// </summary>
public static class TokenizerSources
{
    public static readonly IReadOnlyDictionary<string, Func<ITokenizer>> Factories = new Dictionary<string, Func<ITokenizer>>
    {
        ["tokenizer.model"] = () => new SentencePieceBpe(SentencePieceModelReader.Read(Fixtures.Path("tokenizers/tokenizer.model"))),
        ["tokenizer.bin"] = () => new SentencePieceBpe(Llama2cTokenizerReader.Read(Fixtures.Path("tokenizers/tokenizer.bin"), vocabSize: 32000)),
        ["loader:tokenizer.model"] = () => TokenizerLoader.Load(Fixtures.Path("tokenizers/tokenizer.model")),
        ["loader:tokenizer.bin"] = () => TokenizerLoader.Load(Fixtures.Path("tokenizers/tokenizer.bin")),
        ["gguf"] = () => TokenizerLoader.Load(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf")),
        ["gguf-model"] = () => TokenizerLoader.Load(Fixtures.Path("models/llama-2-tiny-random.gguf")),
    };

    public static TheoryData<string> Names
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in Factories.Keys) data.Add(name);
            return data;
        }
    }

    private static readonly ConcurrentDictionary<string, ITokenizer> Cache = new();

    /// <summary>The tokenizer for a source, built once per test run (skips when the fixture is absent).</summary>
    public static ITokenizer Get(string name) => Cache.GetOrAdd(name, n => Factories[n]());
}
