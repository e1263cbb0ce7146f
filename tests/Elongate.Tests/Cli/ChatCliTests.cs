using Elongate.Cli;
using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Tests.Cli;

/// <summary>`generate --chat` end to end on a GGUF model carrying Phi-3's vocabulary and chat template.</summary>
public sealed class ChatCliTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-chat");

    public void Dispose() => _dir.Delete(true);

    [SkippableFact]
    public void ChatsResetsAndExits()
    {
        var vocab = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));
        int the = Array.IndexOf(vocab.Pieces, "\u2581the");
        var config = new LlamaConfig
        {
            HiddenSize = 8, IntermediateSize = 16, NumLayers = 1, NumHeads = 2, NumKvHeads = 1, VocabSize = vocab.Count,
            MaxPositionEmbeddings = 256, BosTokenId = 1, EosTokenId = 32000,
        };
        // Every position predicts "▁the".
        var weights = LlamaWeights.FromFloats(config, spec =>
        {
            var a = new float[spec.ElementCount];
            if (spec.Role is TensorRole.TokenEmbedding or TensorRole.AttnNorm or TensorRole.FfnNorm or TensorRole.FinalNorm) Array.Fill(a, 1f);
            if (spec.Role == TensorRole.Output) a.AsSpan(the * config.HiddenSize, config.HiddenSize).Fill(1f);
            return a;
        });
        var path = Path.Combine(_dir.FullName, "phi3-vocab.gguf");
        using (var model = new LlamaModel { Config = config, Weights = weights, Source = "scripted" })
            GgufModelWriter.Save(path, model, GgufOutputType.F32, vocab);

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = ElongateCli.Run(["generate", "-m", path, "--chat", "-n", "3", "--system", "Be brief."], stdout, stderr,
            new StringReader("Hi\n/reset\nHello again\n/exit\nnever read\n"));
        Assert.True(rc == 0, stderr.ToString());
        Assert.Equal("> " + " the the the\n" + "> " + "> " + " the the the\n" + "> ", stdout.ToString());
        var err = stderr.ToString();
        Assert.Contains("chat template: phi3", err);
        Assert.Contains("(conversation reset)", err);
        Assert.Contains("[length; prompt", err);

        // An unknown template name is refused with the known names.
        stderr = new StringWriter();
        rc = ElongateCli.Run(["generate", "-m", path, "--chat", "--chat-template", "no-such"], new StringWriter(), stderr, new StringReader(""));
        Assert.NotEqual(0, rc);
        Assert.Contains("no-such", stderr.ToString());
        Assert.Contains("chatml", stderr.ToString());
    }
}
