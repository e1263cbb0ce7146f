using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Elongate.Tests.Data;

/// <summary>
/// A minimal OpenAI-compatible chat endpoint on 127.0.0.1 (ASP.NET Core minimal API, port 0): POST
/// /v1/chat/completions hands the parsed request body to the handler, which returns an HTTP status and the
/// assistant's text (for 200) or an error message (OpenAI's error object); every request body is kept in
/// <see cref="Requests"/> for the test to inspect.
/// </summary>
internal sealed class ChatStubServer : IDisposable
{
    private readonly WebApplication _app;
    private readonly Func<JsonObject, (int Status, string Text)> _handler;

    public ConcurrentQueue<JsonObject> Requests { get; } = new();

    /// <summary>The API root to pass as --endpoint: http://127.0.0.1:PORT/v1.</summary>
    public string Endpoint { get; }

    public ChatStubServer(Func<JsonObject, (int Status, string Text)> handler)
    {
        _handler = handler;
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "ChatStub" });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        builder.Services.AddRoutingCore();
        _app = builder.Build();
        _app.UseRouting();
        _app.MapPost("/v1/chat/completions", Answer);
        _app.StartAsync().GetAwaiter().GetResult();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Endpoint = address.TrimEnd('/') + "/v1";
    }

    /// <summary>The text of the messages of a request.</summary>
    public static string Prompt(JsonObject request) =>
        string.Concat(request["messages"]!.AsArray().Select(m => (string?)m!["content"] ?? ""));

    /// <summary>Whether the request asks for JSON output: response_format {"type": "json_object"}.</summary>
    public static bool AsksJson(JsonObject request) => (string?)request["response_format"]?["type"] == "json_object";

    private async Task Answer(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var request = JsonNode.Parse(await reader.ReadToEndAsync())!.AsObject();
        Requests.Enqueue(request);
        var (status, text) = _handler(request);
        int completion = Math.Max(1, text.Length / 4);
        var body = status == 200
            ? new JsonObject
            {
                ["id"] = "chatcmpl-stub", ["object"] = "chat.completion", ["created"] = 0, ["model"] = (string?)request["model"] ?? "stub",
                ["choices"] = new JsonArray(new JsonObject
                {
                    ["index"] = 0, ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = text }, ["finish_reason"] = "stop",
                }),
                ["usage"] = new JsonObject { ["prompt_tokens"] = 1, ["completion_tokens"] = completion, ["total_tokens"] = 1 + completion },
            }
            : new JsonObject { ["error"] = new JsonObject { ["message"] = text, ["type"] = "invalid_request_error", ["param"] = null, ["code"] = null } };
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString());
    }

    public void Dispose()
    {
        _app.StopAsync().GetAwaiter().GetResult();
        ((IDisposable)_app).Dispose();
    }
}
