using System.Text.RegularExpressions;
using Elongate.Tokenization;
using Microsoft.ML.Tokenizers;
using ElongatePreTokenizer = Elongate.Tokenization.PreTokenizer;
using MlPreTokenizer = Microsoft.ML.Tokenizers.PreTokenizer;

namespace Elongate.Tests.Tokenization;

/// <summary>
/// <see cref="ITokenizer"/> over Microsoft.ML.Tokenizers 2.0.1's <see cref="BpeTokenizer"/> in byte-level mode, built
/// from a GGUF byte-level BPE vocabulary (pieces as the vocabulary, tokenizer.ggml.merges as the merges), for comparison
/// with <see cref="ByteLevelBpe"/>. Test-only: see TokenizerLoader's remarks for why the library does not use it.
/// </summary>
/// <remarks>
/// Pre-tokenization: ML.Tokenizers has a single-expression <see cref="RegexPreTokenizer"/> but nothing that applies
/// several expressions in turn, as llama.cpp's deepseek-llm, falcon and starcoder pre-tokenizers do. With
/// <see cref="Split.MlRegex"/> (one-expression vocabularies only: gpt-2) ML.Tokenizers' own RegexPreTokenizer runs
/// the original GPT-2 expression; with <see cref="Split.Elongate"/> our <see cref="ElongatePreTokenizer"/> and
/// <see cref="SpecialTokenSplitter"/> produce the words, so what is compared is ML.Tokenizers' byte mapping and merging.
/// UserDefined pieces are its special tokens (cut out of any text, as llama.cpp does with parse_special off); text is
/// always encoded as plain text, as in llama.cpp's test vectors.
/// </remarks>
public sealed class MlTokenizersByteLevelBpe : ITokenizer
{
    /// <summary>Who splits text into words.</summary>
    public enum Split
    {
        /// <summary>Elongate's pre-tokenizer and special-token splitter, wrapped as an ML.Tokenizers PreTokenizer.</summary>
        Elongate,
        /// <summary>ML.Tokenizers' RegexPreTokenizer with the single expression of the vocabulary's pre-tokenizer.</summary>
        MlRegex,
    }

    /// <summary>GPT-2's expression as in its encoder.py, whose last alternative covers any whitespace left.</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private readonly BpeTokenizer _tokenizer;

    public MlTokenizersByteLevelBpe(TokenVocabulary vocabulary, Split split)
    {
        if (vocabulary.Kind != VocabularyKind.BytePairEncoding || vocabulary.Merges is null)
            throw new ArgumentException("a byte-level BPE vocabulary with merges is required", nameof(vocabulary));
        Vocabulary = vocabulary;
        var special = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < vocabulary.Count; i++)
            if (vocabulary.Types[i] == TokenType.UserDefined) special[vocabulary.Pieces[i]] = i;
        var words = ElongatePreTokenizer.ForName(vocabulary.PreTokenizer ?? "default");
        MlPreTokenizer pre = split switch
        {
            Split.MlRegex when words.Name == "gpt-2" => new RegexPreTokenizer(new Regex(Gpt2Pattern, RegexOptions.Compiled), special),
            Split.MlRegex when words.Patterns.Count == 1 => new RegexPreTokenizer(new Regex(words.Patterns[0], RegexOptions.Compiled), special),
            Split.MlRegex => throw new NotSupportedException($"pre-tokenizer '{words.Name}' applies {words.Patterns.Count} expressions in turn; ML.Tokenizers' RegexPreTokenizer takes one"),
            _ => new ElongateWords(words, new SpecialTokenSplitter(vocabulary, userDefinedAlways: true)),
        };
        var options = new BpeOptions(vocabulary.Pieces.Select((p, i) => new KeyValuePair<string, int>(p, i)))
        {
            Merges = vocabulary.Merges,
            ByteLevel = true,
            PreTokenizer = pre,
            SpecialTokens = special.Count > 0 ? special : null,
        };
        _tokenizer = BpeTokenizer.Create(options);
        Implementation = $"Microsoft.ML.Tokenizers 2.0.1 BpeTokenizer (ByteLevel, {(split == Split.MlRegex ? "RegexPreTokenizer" : "Elongate pre-tokenizer")})";
    }

    public TokenVocabulary Vocabulary { get; }

    public string Implementation { get; }

    public bool StripsLeadingSpace => false;

    /// <inheritdoc/>
    public int[] Encode(string text, bool addBos, bool addEos, bool parseSpecial = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (parseSpecial) throw new ArgumentException("the ML.Tokenizers adapter is compared on plain text only", nameof(parseSpecial));
        var ids = new List<int>(text.Length / 3 + 2);
        if (addBos && Vocabulary.BosId >= 0) ids.Add(Vocabulary.BosId);
        ids.AddRange(_tokenizer.EncodeToIds(text, considerPreTokenization: true, considerNormalization: true));
        if (addEos && Vocabulary.EosId >= 0) ids.Add(Vocabulary.EosId);
        return [.. ids];
    }

    /// <inheritdoc/>
    public string Decode(ReadOnlySpan<int> ids)
    {
        foreach (int id in ids)
            if ((uint)id >= (uint)Vocabulary.Count)
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"id outside the {Vocabulary.Count}-piece vocabulary");
        return _tokenizer.Decode(ids.ToArray()) ?? "";
    }

    /// <inheritdoc/>
    public byte[] TokenBytes(int id, bool special = false) => System.Text.Encoding.UTF8.GetBytes(Decode([id]));

    /// <summary>Elongate's special-token cut and word split as an ML.Tokenizers pre-tokenizer.</summary>
    private sealed class ElongateWords(ElongatePreTokenizer words, SpecialTokenSplitter special) : MlPreTokenizer
    {
        public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Words(text);

        public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Words(text.ToString());

        private List<(int Offset, int Length)> Words(string text)
        {
            var result = new List<(int, int)>();
            var part = new List<(int Start, int Length)>();
            foreach (var (start, length, id) in special.Split(text, parseSpecial: false))
            {
                if (id >= 0) { result.Add((start, length)); continue; }
                part.Clear();
                words.Split(text.AsSpan(start, length), part);
                foreach (var (s, l) in part) result.Add((start + s, l));
            }
            return result;
        }
    }
}
