using System.CommandLine;
using Elongate.Cli.Commands;

namespace Elongate.Tests.Cli;

/// <summary>`info` and `tokenize` on GGUF files whose architecture Elongate does not run (llama.cpp's vocabulary-only files).</summary>
public class AnyGgufCliTests
{
    private static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { TokenizeCommand.Create(), InfoCommand.Create() };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [SkippableFact]
    public void InfoDescribesAnotherArchitectureAndItsVocabulary()
    {
        var (rc, output, err) = Run("info", Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf"));
        Assert.True(rc == 0, err);
        Assert.Contains("architecture: gpt2", output);
        Assert.Contains("can run:      no: architecture 'gpt2' is not one Elongate runs (only 'llama')", output);
        Assert.Contains("50257 pieces, byte-level BPE, pre-tokenizer 'gpt-2', 50000 merges", output);
        Assert.Contains("stops at:     50256 '<|endoftext|>'", output);
        Assert.Contains("tokenizer.ggml.merges", output); // the metadata is still listed

        (rc, output, err) = Run("info", Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"), "--json");
        Assert.True(rc == 0, err);
        var json = System.Text.Json.Nodes.JsonNode.Parse(output)!;
        Assert.Equal("phi3", (string?)json["architecture"]);
        Assert.False((bool)json["can_run"]!);
        Assert.Equal("spm", (string?)json["vocabulary"]!["kind"]);
        Assert.Equal(32064, (int)json["vocabulary"]!["pieces"]!);

        (rc, output, err) = Run("info", Fixtures.Path("tokenizers/ggml-vocab-deepseek-llm.gguf"));
        Assert.True(rc == 0, err);
        Assert.Contains("can run:      no: vocabulary-only file: it has no tensors", output);
    }

    [SkippableFact]
    public void TokenizeWorksWithVocabularyOnlyFiles()
    {
        var gpt2 = Fixtures.Path("tokenizers/ggml-vocab-gpt-2.gguf");
        // gpt-2 adds no BOS by default (add_bos_token absent, not the Llama 3 family).
        var (rc, output, err) = Run("tokenize", "--tokenizer", gpt2, "--text", "Hello world<|endoftext|>");
        Assert.True(rc == 0, err);
        Assert.Equal("15496 995 27 91 437 1659 5239 91 29", output.TrimEnd('\n'));
        (rc, output, _) = Run("tokenize", "--tokenizer", gpt2, "--text", "Hello world<|endoftext|>", "--special");
        Assert.Equal("15496 995 50256", output.TrimEnd('\n'));
        (rc, output, _) = Run("tokenize", "--tokenizer", gpt2, "--decode", "--text", "15496 995 50256");
        Assert.Equal("Hello world", output.TrimEnd('\n'));
        (rc, output, _) = Run("tokenize", "--tokenizer", gpt2, "--decode", "--text", "15496 995 50256", "--special");
        Assert.Equal("Hello world<|endoftext|>", output.TrimEnd('\n'));

        // The deepseek-llm file adds BOS (add_bos_token true).
        (rc, output, err) = Run("tokenize", "--tokenizer", Fixtures.Path("tokenizers/ggml-vocab-deepseek-llm.gguf"), "--text", "Hello");
        Assert.True(rc == 0, err);
        Assert.StartsWith("100000 ", output);
    }
}
