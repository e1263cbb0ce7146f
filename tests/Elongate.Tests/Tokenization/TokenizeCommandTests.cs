using System.CommandLine;
using Elongate.Cli.Commands;

namespace Elongate.Tests.Tokenization;

/// <summary>`elongate tokenize` end to end (in process), against the Meta / llama.cpp vectors.</summary>
public class TokenizeCommandTests
{
    private static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var root = new RootCommand { TokenizeCommand.Create() };
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = root.Parse(args).Invoke(new InvocationConfiguration { Output = stdout, Error = stderr });
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [SkippableFact]
    public void EncodesTextAndFileAndDecodes()
    {
        var model = Fixtures.Path("tokenizers/tokenizer.model");
        var bin = Fixtures.Path("tokenizers/tokenizer.bin");
        var (rc, output, _) = Run("tokenize", "--tokenizer", model, "--text", "I believe the meaning of life is");
        Assert.Equal(0, rc);
        Assert.Equal("1 306 4658 278 6593 310 2834 338", output.TrimEnd('\n'));

        (rc, output, _) = Run("tokenize", "--tokenizer", bin, "--text", "ied 4 ½ months", "--no-bos");
        Assert.Equal(0, rc);
        Assert.Equal("474 287 29871 29946 29871 30226 7378", output.TrimEnd('\n'));

        var tmp = Path.GetTempFileName();
        try
        {
            File.WriteAllText(tmp, "Hello world");
            (rc, output, _) = Run("tokenize", "--tokenizer", bin, "--file", tmp, "--no-bos");
            Assert.Equal(0, rc);
            Assert.Equal("15043 3186", output.TrimEnd('\n'));
        }
        finally
        {
            File.Delete(tmp);
        }

        (rc, output, _) = Run("tokenize", "--tokenizer", model, "--decode", "--text", "1 306 4658 278 6593 310 2834 338");
        Assert.Equal(0, rc);
        Assert.Equal("I believe the meaning of life is\n", output);
    }

    [SkippableFact]
    public void ReportsBadInput()
    {
        var model = Fixtures.Path("tokenizers/tokenizer.model");
        var (rc, _, err) = Run("tokenize", "--tokenizer", model);
        Assert.Equal(2, rc);
        Assert.Contains("--text or --file", err);
        (rc, _, err) = Run("tokenize", "--tokenizer", model, "--decode", "--text", "1 99999");
        Assert.Equal(2, rc);
        Assert.Contains("99999", err);
        (rc, _, err) = Run("tokenize", "--tokenizer", Fixtures.Path("models/stories260K.bin"), "--text", "x");
        Assert.Equal(1, rc);
        Assert.Contains("stories260K.bin", err);
    }
}
