using System.ClientModel;
using Microsoft.Extensions.AI;
using OpenAI;

namespace Elongate.Serving;

/// <summary>
/// <see cref="IChatClient"/>s for models behind any OpenAI-compatible HTTP endpoint (llama-server, Ollama, vLLM,
/// `elongate serve`, OpenAI itself), through the official OpenAI client and Microsoft.Extensions.AI.OpenAI.
/// </summary>
public static class RemoteChatClients
{
    /// <summary>
    /// A client for <paramref name="model"/> at <paramref name="endpoint"/> (the API root, e.g.
    /// http://127.0.0.1:8080/v1). Local servers usually need no key; one is sent anyway because the client requires it.
    /// </summary>
    /// <exception cref="ArgumentException">The endpoint is not an absolute http(s) URL, or the model name is empty.</exception>
    public static IChatClient Create(Uri endpoint, string model, string? apiKey = null, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri || endpoint.Scheme is not ("http" or "https"))
            throw new ArgumentException($"endpoint '{endpoint}' is not an absolute http(s) URL");
        if (string.IsNullOrWhiteSpace(model)) throw new ArgumentException("the remote model name is empty");
        var options = new OpenAIClientOptions { Endpoint = endpoint, NetworkTimeout = timeout ?? TimeSpan.FromMinutes(10) };
        var client = new OpenAIClient(new ApiKeyCredential(string.IsNullOrEmpty(apiKey) ? "none" : apiKey), options);
        return client.GetChatClient(model).AsIChatClient();
    }
}
