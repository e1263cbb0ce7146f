using Elongate.Cli;
using Elongate.Serving;

namespace Elongate.Tests.Serving;

/// <summary>`generate --endpoint` (any OpenAI-compatible server through the official client) against `elongate serve`.</summary>
public class EndpointCliTests
{
    [SkippableFact]
    public async Task GenerateTalksToARemoteServerLikeToALocalModel()
    {
        await using var kit = await ServerTestKit.StartAsync(ServerTestKit.RandomModel(), new ModelHostOptions { Slots = 1 });
        var url = new Uri(kit.Server.BaseAddress, "v1").ToString();
        var expected = kit.GreedyChat("Hello there", 6);

        // One prompt: sent as a user message; the server applies the chat template; greedy by default.
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = await Task.Run(() => ElongateCli.Run(["generate", "--endpoint", url, "--prompt", "Hello there", "-n", "6"], stdout, stderr));
        Assert.True(rc == 0, stderr.ToString());
        Assert.Equal(expected + "\n", stdout.ToString());
        Assert.Contains("remote model: tiny", stderr.ToString()); // found through /v1/models

        // The chat loop over the same server, with /reset.
        stdout = new StringWriter();
        stderr = new StringWriter();
        rc = await Task.Run(() => ElongateCli.Run(["generate", "--endpoint", url, "--remote-model", "tiny", "--chat", "-n", "6"], stdout, stderr,
            new StringReader("Hello there\n/reset\nHello there\n")));
        Assert.True(rc == 0, stderr.ToString());
        Assert.Equal($"> {expected}\n> > {expected}\n> ", stdout.ToString());

        // A server that is not there: one line and exit code 4.
        stderr = new StringWriter();
        rc = ElongateCli.Run(["generate", "--endpoint", "http://127.0.0.1:1/v1", "--remote-model", "x", "--prompt", "hi"], new StringWriter(), stderr);
        Assert.Equal(4, rc);
        Assert.Contains("model server", stderr.ToString());

        // --model and --endpoint together are refused.
        rc = ElongateCli.Run(["generate", "--endpoint", url, "-m", "x.gguf", "--prompt", "hi"], new StringWriter(), stderr = new StringWriter());
        Assert.Equal(2, rc);
    }
}
