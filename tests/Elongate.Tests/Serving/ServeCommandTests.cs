using System.CommandLine;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Elongate.Cli;
using Elongate.Formats;
using Elongate.Model;

namespace Elongate.Tests.Serving;

/// <summary>`elongate serve` end to end: a GGUF with Phi-3's vocabulary, served on a free loopback port until cancelled.</summary>
[Collection(ServingCollection.Name)]
public sealed partial class ServeCommandTests : IDisposable
{
    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("elongate-serve");

    public void Dispose() => _dir.Delete(true);

    [SkippableFact]
    public async Task ServesUntilCancelledWithTheKeyAndSaysWhereAndWhat()
    {
        var vocab = GgufVocabularyReader.ReadFile(Fixtures.Path("tokenizers/ggml-vocab-phi-3.gguf"));
        var path = Path.Combine(_dir.FullName, "phi3-the.gguf");
        using (var model = ServerTestKit.TheModel(256))
            GgufModelWriter.Save(path, model, GgufOutputType.F32, vocab);
        var keyFile = Path.Combine(_dir.FullName, "key.txt");
        File.WriteAllText(keyFile, "k-123\n");

        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var outSync = TextWriter.Synchronized(stdout);
        using var cts = new CancellationTokenSource();
        var config = new InvocationConfiguration { Output = outSync, Error = TextWriter.Synchronized(stderr), ProcessTerminationTimeout = null };
        var run = Task.Run(() => ElongateCli.Build()
            .Parse(["serve", "-m", path, "--port", "0", "--parallel", "2", "--context", "128", "--alias", "the-model", "--api-key-file", keyFile,
                "--rope-scaling", "linear", "--rope-factor", "2"])
            .InvokeAsync(config, cts.Token));

        string banner = "";
        for (int i = 0; i < 600 && !banner.Contains("press Ctrl+C") && !run.IsCompleted; i++)
        {
            await Task.Delay(50);
            lock (outSync) banner = stdout.ToString();
        }
        var url = UrlPattern().Match(banner) is { Success: true } m ? m.Value : null;
        Assert.True(url is not null, $"no URL printed; stdout: {banner}; stderr: {stderr}");
        Assert.Contains("serving the-model at http://127.0.0.1:", banner);
        Assert.Contains("context 128 tokens per slot, 2 slots", banner);
        Assert.Contains("chat template phi3", banner);
        Assert.Contains("memory: weights", banner);

        using var http = new HttpClient { BaseAddress = new Uri(url!) };
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = new StringContent("""{"model":"the-model","messages":[{"role":"user","content":"Hi"}],"max_tokens":3,"temperature":0}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "k-123");
        using var response = await http.SendAsync(request);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(200, (int)response.StatusCode);
        Assert.Equal(" the the the", (string?)body["choices"]![0]!["message"]!["content"]);
        Assert.Equal(401, (int)(await http.GetAsync("/v1/models")).StatusCode);

        cts.Cancel();
        int rc = await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(rc == 0, stderr.ToString());
        Assert.Contains("stopped", stdout.ToString());

        // Bad arguments are one line and exit code 2.
        var err = new StringWriter();
        rc = ElongateCli.Run(["serve", "-m", path, "--host", "example.com"], new StringWriter(), err);
        Assert.Equal(2, rc);
        Assert.Contains("host", err.ToString());
        err = new StringWriter();
        rc = ElongateCli.Run(["serve", "-m", path, "--chat-template", "no-such"], new StringWriter(), err);
        Assert.Equal(2, rc);
        Assert.Contains("no-such", err.ToString());
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
    private static partial Regex UrlPattern();
}
