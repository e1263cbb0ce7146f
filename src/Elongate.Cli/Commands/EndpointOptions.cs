using System.CommandLine;
using Elongate.Serving;
using Microsoft.Extensions.AI;

namespace Elongate.Cli.Commands;

/// <summary>
/// `--endpoint URL [--api-key-env VAR] [--remote-model NAME]`: use a model behind any OpenAI-compatible server instead
/// of a local file, for the commands that talk to a model through chat.
/// </summary>
internal sealed class EndpointOptions
{
    public readonly Option<string?> Endpoint;
    public readonly Option<string?> ApiKeyEnv;
    public readonly Option<string?> RemoteModel;

    /// <summary>The options; a <paramref name="prefix"/> such as "compare" names a second set (--compare-endpoint, …) for a second model.</summary>
    public EndpointOptions(string prefix = "", string replaces = "--model")
    {
        string p = prefix.Length == 0 ? "--" : $"--{prefix}-";
        Endpoint = new(p + "endpoint") { Description = $"OpenAI-compatible API root of a model server (llama-server, Ollama, vLLM, elongate serve), e.g. http://127.0.0.1:8080/v1; replaces {replaces}" };
        ApiKeyEnv = new(p + "api-key-env") { Description = $"Environment variable holding the API key of the {p}endpoint server (default: none)" };
        RemoteModel = new(p + "remote-model") { Description = $"Model name the {p}endpoint server knows (default: the first one its /v1/models lists)" };
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Endpoint);
        command.Options.Add(ApiKeyEnv);
        command.Options.Add(RemoteModel);
    }

    /// <summary>True when --endpoint was given.</summary>
    public bool IsRemote(ParseResult parse) => parse.GetValue(Endpoint) is not null;

    /// <summary>The remote chat client and the model name it talks to.</summary>
    /// <exception cref="ArgumentException">A bad URL, an unset key variable, or a server that lists no model.</exception>
    public (IChatClient Client, string Model) Create(ParseResult parse)
    {
        var url = parse.GetValue(Endpoint)!;
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) throw new ArgumentException($"--endpoint '{url}' is not an absolute URL");
        string? key = null;
        if (parse.GetValue(ApiKeyEnv) is { } variable)
        {
            key = Environment.GetEnvironmentVariable(variable);
            if (string.IsNullOrEmpty(key)) throw new ArgumentException($"--api-key-env: environment variable {variable} is not set");
        }
        var model = parse.GetValue(RemoteModel) ?? FirstModel(uri, key);
        return (RemoteChatClients.Create(uri, model, key), model);
    }

    /// <summary>The first model of GET {endpoint}/models, as OpenAI-compatible servers list them.</summary>
    private static string FirstModel(Uri endpoint, string? key)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        if (key is not null) http.DefaultRequestHeaders.Authorization = new("Bearer", key);
        var models = new Uri(endpoint.AbsoluteUri.TrimEnd('/') + "/models");
        string body;
        try
        {
            body = http.GetStringAsync(models).GetAwaiter().GetResult();
        }
        catch (HttpRequestException e)
        {
            throw new ArgumentException($"cannot list the models of {models}: {e.Message} (give --remote-model)", e);
        }
        var data = System.Text.Json.Nodes.JsonNode.Parse(body)?["data"]?.AsArray();
        return data is { Count: > 0 } && (string?)data[0]?["id"] is { Length: > 0 } id
            ? id
            : throw new ArgumentException($"{models} lists no model (give --remote-model)");
    }
}
