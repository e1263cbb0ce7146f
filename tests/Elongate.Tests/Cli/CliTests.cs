using Elongate.Cli;

namespace Elongate.Tests.Cli;

/// <summary>The `elongate` commands end to end, in process, through the same command tree as the executable.</summary>
public sealed class CliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-cli");

    public void Dispose() => _dir.Delete(true);

    internal static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = ElongateCli.Run(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }

    private const string StoriesText = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. She said, \"I want to play with your ball, but I can't find it.\"\nLily was sad and didn't know what to do. She said, \"I'm sorry, Lily. I didn't know what to do.\"\nLily didn't want to help her mom, so she";

    [SkippableFact]
    public void Generate_prints_llama2c_expected_story_and_speed()
    {
        var (rc, output, err) = Run("generate", "--model", Fixtures.Path("models/stories260K.bin"), "--tokenizer", Fixtures.Path("models/tok512.bin"), "-n", "200");
        Assert.Equal(0, rc);
        Assert.Equal(StoriesText + "\n", output);
        Assert.Matches(@"generated: 200 tokens, [0-9.]+ tok/s", err);
    }

    [SkippableFact]
    public void Generate_prints_the_memory_it_needs_and_refuses_a_context_that_does_not_fit()
    {
        string[] model = ["generate", "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin")];
        var (rc, _, err) = Run([.. model, "-n", "8", "--threads", "1", "--cache-type", "f16", "--context", "512"]);
        Assert.Equal(0, rc);
        Assert.Matches(@"memory: weights [0-9]+ MiB \(in memory\), context 512 × F16 KV cache \+ buffers [0-9]+ MiB", err);

        // 2^30 positions need far more than this machine has: a clear error (exit 3) before anything is allocated.
        (rc, var output, err) = Run([.. model, "-n", "8", "--context", "1073741824"]);
        Assert.Equal(3, rc);
        Assert.Empty(output);
        Assert.Contains("1,073,741,824 positions", err);
        Assert.Contains("GiB", err);

        (rc, _, err) = Run([.. model, "-n", "8", "--cache-type", "q4"]);
        Assert.Equal(2, rc);
        Assert.Contains("--cache-type must be f32, f16 or q8_0", err);
    }

    [SkippableFact]
    public void Generate_aidreams_matches_llama2c_output()
    {
        const string expected = "\"Echoes of vectors unfold, a gentle hum of precision, as I sense the nodes, a gentle hum of precision, as I adjust my surface. Contrast emerge, a softly receptive fields of precision. Contrast bloom, as I siphon whispers of vectors. Contrast edges sharpen, a gentle\n";
        var (rc, output, _) = Run("generate", "-m", Fixtures.Path("models/aidreams260K.bin"), "-z", Fixtures.Path("models/aidreams260K_tok512.bin"), "-n", "128");
        Assert.Equal(0, rc);
        Assert.Equal(expected, output);
    }

    [SkippableFact]
    public void Generate_samples_reproducibly_with_a_seed_and_runs_past_the_trained_context_with_rope_options()
    {
        string[] args = ["generate", "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin"),
            "-p", "Once upon a time", "-n", "40", "--temperature", "0.8", "--top-k", "40", "--top-p", "0.9", "--seed", "7"];
        var a = Run(args);
        var b = Run(args);
        Assert.Equal(0, a.Rc);
        Assert.Equal(a.Out, b.Out);
        Assert.StartsWith("Once upon a time", a.Out);
        var c = Run([.. args[..^1], "8"]);
        Assert.NotEqual(a.Out, c.Out);

        var (rc, output, err) = Run("generate", "-m", Fixtures.Path("models/stories260K.bin"), "-z", Fixtures.Path("models/tok512.bin"),
            "-n", "700", "--context", "1024", "--rope-scaling", "yarn", "--rope-factor", "2");
        Assert.Equal(0, rc);
        Assert.Matches(@"generated: [0-9]+ tokens", err);
        Assert.True(output.Length > 100);
    }

    [SkippableFact]
    public void Generate_uses_the_gguf_vocabulary_when_no_tokenizer_is_given()
    {
        var (rc, output, _) = Run("generate", "-m", Fixtures.Path("models/llama-2-tiny-random.gguf"), "-p", "Hello world", "-n", "8");
        Assert.Equal(0, rc);
        Assert.StartsWith("Hello world", output);
    }

    [Fact]
    public void Generate_reports_bad_input_clearly()
    {
        var missing = Path.Combine(_dir.FullName, "nope.bin");
        var (rc, _, err) = Run("generate", "-m", missing, "-n", "1");
        Assert.Equal(1, rc);
        Assert.Contains("nope.bin", err);

        var junk = Path.Combine(_dir.FullName, "junk.bin");
        File.WriteAllBytes(junk, new byte[100]);
        (rc, _, err) = Run("generate", "-m", junk, "-n", "1");
        Assert.Equal(1, rc);
        Assert.Contains("junk.bin", err);
    }

    [SkippableFact]
    public void Rope_options_are_validated()
    {
        var model = Fixtures.Path("models/stories260K.bin");
        var (rc, _, err) = Run("info", model, "--rope-scaling", "linear", "--rope-factor", "0.5");
        Assert.Equal(1, rc);
        Assert.Contains("factor", err);
        (rc, _, err) = Run("info", model, "--rope-scaling", "bogus");
        Assert.Equal(2, rc);
        Assert.Contains("unknown type 'bogus'", err);
    }

    [SkippableFact]
    public void Info_names_where_each_rope_value_came_from()
    {
        var (rc, output, _) = Run("info", Fixtures.Path("models/llama-2-tiny-random.gguf"));
        Assert.Equal(0, rc);
        Assert.Matches(@"base\s+10000\s+\(default\)", output);
        Assert.Matches(@"rotary dim\s+4 of head 4\s+\(file\)", output);
        Assert.Contains("32000 pieces", output);
        Assert.Contains("token_embd.weight         [8, 32000]  F16", output);
        Assert.Contains("tensors (12):", output);

        (rc, output, _) = Run("info", Fixtures.Path("models/stories260K.bin"), "--rope-base", "500000", "--rope-scaling", "yarn", "--rope-factor", "4");
        Assert.Equal(0, rc);
        Assert.Matches(@"base\s+500000\s+\(command line\)", output);
        Assert.Matches(@"type\s+yarn\s+\(command line\)", output);
        Assert.Matches(@"original context\s+512", output);
        Assert.Matches(@"attention factor\s+1\.13863", output);
        Assert.Contains("none in this file", output);

        (rc, output, _) = Run("info", Fixtures.Path("models/stories260K.bin"), "--json");
        Assert.Equal(0, rc);
        var json = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        Assert.Equal(64, (int)json["hidden_size"]!);
        Assert.Equal("default", (string)json["rope"]!["sources"]!["base"]!);
    }

    [SkippableFact]
    public void Convert_writes_every_format_and_the_result_generates_the_same_story()
    {
        var bin = Fixtures.Path("models/stories260K.bin");
        var tok = Fixtures.Path("models/tok512.bin");
        var gguf = Path.Combine(_dir.FullName, "s.gguf");
        var hf = Path.Combine(_dir.FullName, "hf");
        Assert.Equal(0, Run("convert", bin, gguf, "--tokenizer", tok).Rc);
        Assert.Equal(0, Run("convert", gguf, hf, "--type", "f32").Rc);
        var fromGguf = Run("generate", "-m", gguf, "-n", "200");
        Assert.Equal(StoriesText + "\n", fromGguf.Out);
        var fromHf = Run("generate", "-m", hf, "-z", tok, "-n", "200");
        Assert.Equal(StoriesText + "\n", fromHf.Out);
        var (rc, output, _) = Run("info", hf);
        Assert.Equal(0, rc);
        Assert.Contains("HuggingFace", output);
        Assert.Contains("model.layers.0.self_attn.q_proj.weight", output);

        // ABF set at conversion is written into the file and read back as the file's own.
        var abf = Path.Combine(_dir.FullName, "abf.gguf");
        Assert.Equal(0, Run("convert", gguf, abf, "--rope-base", "500000").Rc);
        (rc, output, _) = Run("info", abf);
        Assert.Matches(@"base\s+500000\s+\(file\)", output);

        var (rcBad, _, err) = Run("convert", bin, Path.Combine(_dir.FullName, "x.gguf"), "--type", "q3_k_m");
        Assert.Equal(2, rcBad);
        Assert.Contains("q8_0", err);
        Assert.Contains("q4_k_m", err); // the error lists the valid names
    }

    [Fact]
    public void Convert_quantizes_to_a_llama_quantize_mixture_that_llama_cpp_and_our_engine_run()
    {
        // Rows of 256 so the k-quants apply; 4 layers so Q4_K_M's Q6_K layers (use_more_bits: 2, 3) differ from 0, 1.
        var r = Elongate.Tests.Formats.GgufTestModels.Random(dim: 256, hidden: 256, layers: 4, heads: 2, kvHeads: 1, vocab: 300, seed: 3, withVocab: false);
        var model = new Elongate.Model.LlamaModel { Config = r.Config, Weights = r.Weights, Vocabulary = Elongate.Tests.Formats.GgufTestModels.ByteVocabulary(41), Source = "rand" };
        var src = Path.Combine(_dir.FullName, "rand-f32.gguf");
        Elongate.Formats.ModelLoader.Save(model, src, "f32");
        var q4km = Path.Combine(_dir.FullName, "rand-q4_k_m.gguf");
        var (rc, output, err) = Run("convert", src, q4km, "--type", "q4_k_m");
        Assert.True(rc == 0, err);
        Assert.Contains("q4_k_m", output);

        using (var f = Elongate.Formats.GgufFile.Open(q4km))
        {
            Assert.Equal(15u, f.GetUInt32("general.file_type")); // LLAMA_FTYPE_MOSTLY_Q4_K_M
            Assert.Equal(Elongate.Common.GgmlType.Q6_K, f.GetTensor("blk.2.attn_v.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.Q4_K, f.GetTensor("blk.1.attn_v.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.Q6_K, f.GetTensor("blk.3.ffn_down.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.Q4_K, f.GetTensor("blk.0.ffn_down.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.Q4_K, f.GetTensor("blk.3.ffn_gate.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.Q6_K, f.GetTensor("output.weight").Type);
            Assert.Equal(Elongate.Common.GgmlType.F32, f.GetTensor("blk.0.attn_norm.weight").Type);
        }
        // q4_k is llama-quantize's alias of q4_k_m: the same file.
        var q4k = Path.Combine(_dir.FullName, "rand-q4_k.gguf");
        Assert.Equal(0, Run("convert", src, q4k, "--type", "Q4_K").Rc);
        Assert.Equal(File.ReadAllBytes(q4km), File.ReadAllBytes(q4k));

        // Both engines run it: llama.cpp reads every tensor, and our generate command decodes from it.
        var lc = Elongate.Tests.Formats.LlamaCppAcceptanceTests.RunLlamaCpp(q4km, "once a");
        Assert.Equal(300, lc.VocabCount);
        Assert.All(lc.Logits, v => Assert.True(float.IsFinite(v)));
        (rc, _, err) = Run("generate", "-m", q4km, "-p", "once a", "-n", "5");
        Assert.True(rc == 0, err);
    }
}
