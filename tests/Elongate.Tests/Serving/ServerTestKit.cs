using System.ClientModel;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Elongate.Model;
using Elongate.Serving;
using Elongate.Tests.Model;
using Elongate.Tokenization;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Elongate.Tests.Serving;

/// <summary>
/// An <see cref="OpenAiServer"/> on 127.0.0.1 (a free port) over a tiny model with Phi-3's vocabulary and chat
/// template, with the clients the tests talk to it through.
/// </summary>
internal sealed class ServerTestKit : IAsyncDisposable
{
    private static readonly Lazy<ITokenizer> Phi3Tokenizer = new(ScriptedModels.Phi3);

    private ServerTestKit(LlamaModel model, ModelHost host, OpenAiServer server, HttpClient http)
    {
        Model = model;
        Host = host;
        Server = server;
        Http = http;
    }

    private InferenceSession? _session;

    public LlamaModel Model { get; }
    public ModelHost Host { get; }
    public OpenAiServer Server { get; }
    public HttpClient Http { get; }
    public ITokenizer Tokenizer => Host.Tokenizer;

    /// <summary>Phi-3's tokenizer, loaded once.</summary>
    public static ITokenizer Phi3 => Phi3Tokenizer.Value;

    /// <summary>Random weights over Phi-3's vocabulary: each prompt has its own greedy continuation.</summary>
    public static LlamaModel RandomModel(int context = 512) => ScriptedModels.Random(ScriptedModels.Config(Phi3.Vocabulary.Count, context), seed: 11);

    /// <summary>Every position predicts "▁the": a generation that runs until max_tokens.</summary>
    public static LlamaModel TheModel(int context) =>
        ScriptedModels.Scripted(ScriptedModels.Config(Phi3.Vocabulary.Count, context), Array.IndexOf(Phi3.Vocabulary.Pieces, "\u2581the"));

    public static Task<ServerTestKit> StartAsync(LlamaModel model, ModelHostOptions hostOptions, OpenAiServerOptions? serverOptions = null) =>
        StartAsync(model, Phi3, hostOptions with { Template = hostOptions.Template ?? ChatTemplate.FromName("phi3") }, serverOptions);

    /// <summary>A server for any model and tokenizer (the chat template is the options' or the vocabulary's own).</summary>
    public static async Task<ServerTestKit> StartAsync(LlamaModel model, ITokenizer tokenizer, ModelHostOptions hostOptions, OpenAiServerOptions? serverOptions = null)
    {
        var host = new ModelHost(model, tokenizer, hostOptions with { ModelName = hostOptions.ModelName ?? "tiny" });
        var server = new OpenAiServer(host, (serverOptions ?? new OpenAiServerOptions()) with { Port = 0 });
        await server.StartAsync();
        var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        return new ServerTestKit(model, host, server, http);
    }

    /// <summary>The official OpenAI client (through Microsoft.Extensions.AI.OpenAI) pointed at this server.</summary>
    public IChatClient ChatClient(string apiKey = "unused") =>
        OpenAIClient(apiKey).GetChatClient(Host.ModelName).AsIChatClient();

    public OpenAIClient OpenAIClient(string apiKey = "unused") =>
        new(new ApiKeyCredential(apiKey), new OpenAIClientOptions { Endpoint = new Uri(Server.BaseAddress, "v1") });

    /// <summary>Greedy text for <paramref name="prompt"/> computed in-process the way `generate` does (TextGenerator); one caller at a time.</summary>
    public string Greedy(int[] prompt, int maxTokens, IReadOnlyList<string>? stops = null)
    {
        var session = _session ??= new InferenceSession(Model, Host.ContextLength);
        session.Reset();
        var decoder = new StreamingDecoder(Tokenizer);
        var filter = new StopStringFilter(stops ?? []);
        TextGenerator.Generate(session, prompt, maxTokens, new Sampler(SamplingOptions.Greedy),
            id => !filter.Push(decoder.Push(id)).Stopped, Tokenizer.Vocabulary.EndOfGenerationIds(), CancellationToken.None);
        filter.Push(decoder.Flush());
        filter.Flush();
        return filter.Text;
    }

    /// <summary>Greedy reply to one user message, rendered with the chat template and stopped at its end-of-turn markers.</summary>
    public string GreedyChat(string user, int maxTokens) =>
        Greedy(Host.TokenizeChat([new ChatTurn("user", user)]), maxTokens, Host.Template!.EndOfTurnMarkers);

    /// <summary>POSTs a raw body; returns the status and the body parsed as JSON (null when it is not JSON).</summary>
    public async Task<(int Status, JsonNode? Body, string Text)> PostAsync(string path, string body, string? apiKey = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (apiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        using var response = await Http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, TryParse(text), text);
    }

    public async Task<(int Status, JsonNode? Body)> GetAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, TryParse(text));
    }

    /// <summary>The JSON payloads of a server-sent-event stream, with whether it ended with "data: [DONE]".</summary>
    public static (List<JsonNode> Events, bool Done) ParseSse(string text)
    {
        var events = new List<JsonNode>();
        bool done = false;
        foreach (var frame in text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.StartsWith("data: ", frame);
            var payload = frame["data: ".Length..];
            Assert.False(done, "nothing may follow [DONE]");
            if (payload == "[DONE]") done = true;
            else events.Add(JsonNode.Parse(payload)!);
        }
        return (events, done);
    }

    /// <summary>Asserts an OpenAI error object: {"error": {"message": string, "type": string, "param", "code"}}.</summary>
    public static JsonObject AssertError(JsonNode? body, string? code = null)
    {
        Assert.NotNull(body);
        var error = body["error"]!.AsObject();
        Assert.False(string.IsNullOrEmpty((string?)error["message"]));
        Assert.False(string.IsNullOrEmpty((string?)error["type"]));
        Assert.True(error.ContainsKey("param"));
        Assert.True(error.ContainsKey("code"));
        if (code is not null) Assert.Equal(code, (string?)error["code"]);
        return error;
    }

    public static JsonNode? TryParse(string text)
    {
        try
        {
            return JsonNode.Parse(text);
        }
        catch (System.Text.Json.JsonException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Server.DisposeAsync();
        Host.Dispose();
        Model.Dispose();
    }
}
