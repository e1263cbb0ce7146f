namespace Elongate.Tests.Tokenization;

/// <summary>Expected encodings from outside references (fixtures PROVENANCE.md §3 and llama.cpp's vocab test files).</summary>
public static class ConformanceVectors
{
    /// <summary>llama.cpp models/ggml-vocab-llama-spm.gguf.inp/.out: 46 strings and their ids (no BOS).</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> LlamaCpp() => LlamaCpp("llama-spm");

    /// <summary>llama.cpp models/ggml-vocab-<paramref name="vocab"/>.gguf.inp/.out: 46 strings and their ids (no BOS).</summary>
    public static IReadOnlyList<(string Text, int[] Ids)> LlamaCpp(string vocab)
    {
        var inp = File.ReadAllText(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf.inp"));
        var outLines = File.ReadAllText(Fixtures.Path($"tokenizers/ggml-vocab-{vocab}.gguf.out")).Split('\n');
        const string sep = "\n__ggml_vocab_test__\n";
        Assert.EndsWith(sep, inp);
        var texts = inp[..^sep.Length].Split(sep);
        Assert.Equal(46, texts.Length);
        Assert.True(outLines.Length >= texts.Length);
        var result = new List<(string, int[])>();
        for (int i = 0; i < texts.Length; i++)
        {
            var ids = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            result.Add((texts[i], ids));
        }
        return result;
    }

    /// <summary>Meta's example prompts with llama2.c test.c's expected ids (BOS first).</summary>
    public static readonly (string Text, int[] Ids)[] Meta =
    [
        ("", [1]),
        ("I believe the meaning of life is", [1, 306, 4658, 278, 6593, 310, 2834, 338]),
        ("Simply put, the theory of relativity states that ", [1, 3439, 17632, 1925, 29892, 278, 6368, 310, 14215, 537, 5922, 393, 29871]),
        ("A brief message congratulating the team on the launch:\n\n        Hi everyone,\n\n        I just ",
            [1, 319, 11473, 2643, 378, 629, 271, 18099, 278, 3815, 373, 278, 6826, 29901, 13, 13, 4706, 6324, 14332, 29892, 13, 13, 4706, 306, 925, 29871]),
        ("Translate English to French:\n\n        sea otter => loutre de mer\n        peppermint => menthe poivrée\n        plush girafe => girafe peluche\n        cheese =>",
            [1, 4103, 9632, 4223, 304, 5176, 29901, 13, 13, 4706, 7205, 4932, 357, 1149, 301, 449, 276, 316, 2778, 13, 4706, 1236, 407, 837, 524, 1149, 6042, 354, 772, 440, 29878, 1318, 13, 4706, 715, 1878, 330, 3055, 1725, 1149, 330, 3055, 1725, 4639, 28754, 13, 4706, 923, 968, 1149]),
    ];

    /// <summary>Every mismatch as one line, so a failing assertion shows all of them at once.</summary>
    public static List<string> Mismatches(Func<string, int[]> encode, IEnumerable<(string Text, int[] Ids)> vectors)
    {
        var failures = new List<string>();
        int i = 0;
        foreach (var (text, ids) in vectors)
        {
            int[] got;
            try
            {
                got = encode(text);
            }
            catch (Exception e)
            {
                failures.Add($"#{i} {Show(text)}: threw {e.GetType().Name}: {e.Message}");
                i++;
                continue;
            }
            if (!got.SequenceEqual(ids))
                failures.Add($"#{i} {Show(text)}: expected [{string.Join(' ', ids)}] got [{string.Join(' ', got)}]");
            i++;
        }
        return failures;
    }

    public static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
