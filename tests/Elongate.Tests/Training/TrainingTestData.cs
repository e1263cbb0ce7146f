using System.Buffers.Binary;
using System.Text;
using Elongate.Data;

namespace Elongate.Tests.Training;

/// <summary>
/// Self-made inputs for the data and trainer tests, so they need no fixtures: a small llama2.c tokenizer.bin with
/// byte fallback (every text encodes, and decodes back exactly) and English-like documents from
/// <see cref="SyntheticCorpus"/>.
/// </summary>
internal static class TrainingTestData
{
    /// <summary>Pieces after the 3 specials and 256 bytes; spaces are written as ' ' (llama2.c's export convention).</summary>
    private static readonly string[] Pieces =
    [
        " ", "e", "t", "a", "o", "i", "n", "s", "h", "r", "l", "d", "u", "c", "m", "f", "w", "y", "g", "p", "b", "v", "k",
        ".", ",", "th", "he", "in", "er", "an", " t", " a", " the", "ou", "re", "on", "at", "en", "is", "es", " s", " w",
    ];

    /// <summary>Vocabulary size of <see cref="WriteTokenizer"/>'s file.</summary>
    public static int VocabSize => 3 + 256 + Pieces.Length;

    /// <summary>Writes the tokenizer.bin and returns its path.</summary>
    public static string WriteTokenizer(string directory)
    {
        Directory.CreateDirectory(directory);
        var all = new List<(string Piece, float Score)> { ("<unk>", 0), ("\n<s>\n", 0), ("\n</s>\n", 0) };
        for (int b = 0; b < 256; b++) all.Add(($"<0x{b:X2}>", 0));
        // Longer pieces score higher, so BPE merges them first.
        for (int i = 0; i < Pieces.Length; i++) all.Add((Pieces[i], Pieces[i].Length * 10 - i * 0.01f));
        using var ms = new MemoryStream();
        Span<byte> four = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(four, all.Max(p => Encoding.UTF8.GetByteCount(p.Piece)));
        ms.Write(four);
        foreach (var (piece, score) in all)
        {
            var bytes = Encoding.UTF8.GetBytes(piece);
            BinaryPrimitives.WriteSingleLittleEndian(four, score);
            ms.Write(four);
            BinaryPrimitives.WriteInt32LittleEndian(four, bytes.Length);
            ms.Write(four);
            ms.Write(bytes);
        }
        var path = Path.Combine(directory, "tokenizer.bin");
        File.WriteAllBytes(path, ms.ToArray());
        return path;
    }

    /// <summary>A document of about <paramref name="words"/> words.</summary>
    public static string Document(int index, int words = 120, ulong seed = 5) => new SyntheticCorpus(seed).Document(index, words, people: 3);

    /// <summary>
    /// Writes <paramref name="documents"/> .txt files and prepares them into <paramref name="dataDir"/>; the first
    /// <paramref name="validation"/> documents are held out by name.
    /// </summary>
    public static CorpusReport Prepare(string root, string dataDir, int documents, int words = 120, int validation = 1, ulong seed = 5)
    {
        var tok = WriteTokenizer(Path.Combine(root, "tok"));
        var inputs = new List<string>();
        var textDir = Path.Combine(root, "text-" + Path.GetFileName(dataDir));
        Directory.CreateDirectory(textDir);
        for (int i = 0; i < documents; i++)
        {
            var p = Path.Combine(textDir, $"doc{i}.txt");
            File.WriteAllText(p, Document(i, words + 37 * i % 100, seed));
            inputs.Add(p);
        }
        return CorpusPreparer.Prepare(new CorpusPrepareOptions
        {
            TokenizerPath = tok, Inputs = inputs, OutputDirectory = dataDir,
            ValidationDocuments = Enumerable.Range(0, validation).Select(i => $"doc{i}.txt").ToArray(),
        });
    }
}
