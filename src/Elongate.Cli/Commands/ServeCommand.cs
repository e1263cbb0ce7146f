using System.CommandLine;
using System.Runtime.InteropServices;
using Elongate.Serving;
using Elongate.Tokenization;

namespace Elongate.Cli.Commands;

/// <summary>
/// `elongate serve -m MODEL [--host 127.0.0.1] [--port 8080] [--api-key-file F] [--parallel N] [--context N] [--queue N]
/// [--chat-template NAME] [--alias NAME] [--lora ADAPTER]`: an OpenAI-compatible HTTP server (<see cref="OpenAiServer"/>) over the model,
/// with the RoPE options applied, so an extended context is served as such. Runs until Ctrl+C.
/// </summary>
public static class ServeCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model: GGUF, llama2.c .bin, or a Hugging Face folder", Required = true };
        var tokenizer = new Option<string?>("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin or a GGUF (default: the model's own vocabulary)" };
        var host = new Option<string>("--host") { Description = "Address to listen on (an IP address or localhost; 0.0.0.0 exposes the model to the network)", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0 = any free port)", DefaultValueFactory = _ => 8080 };
        var apiKeyFile = new Option<string?>("--api-key-file") { Description = "File holding the API key clients must send (Authorization: Bearer KEY)" };
        var parallel = new Option<int>("--parallel", "-np") { Description = "Requests served at once, each with its own KV cache over the shared weights", DefaultValueFactory = _ => 1 };
        var context = new Option<int?>("--context", "-c") { Description = "Context window per slot in tokens (default: the model's trained context)" };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; more get HTTP 503", DefaultValueFactory = _ => 64 };
        var chatTemplate = new Option<string?>("--chat-template") { Description = $"Chat template name, overriding the model's (one of: {string.Join(", ", ChatTemplate.Names)})" };
        var alias = new Option<string?>("--alias", "-a") { Description = "The model name clients use (default: the model file's name)" };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes (HTTP 413 beyond it)", DefaultValueFactory = _ => 8L << 20 };
        var lora = LoraOption.Create();
        var rope = new RopeOverrides();
        var run = new ModelOptions();
        var cmd = new Command("serve", "Serve a model over an OpenAI-compatible HTTP API (chat/completions, completions, models, health, tokenize)")
        {
            model, tokenizer, host, port, apiKeyFile, parallel, context, queue, chatTemplate, alias, maxBody, lora,
        };
        rope.AddTo(cmd);
        run.AddTo(cmd);
        cmd.SetAction((parse, cancel) => Task.FromResult(CliErrors.Run(parse, "serve", (stdout, stderr) =>
        {
            string? key = null;
            if (parse.GetValue(apiKeyFile) is { } keyFile)
            {
                key = File.ReadAllText(keyFile).Trim();
                if (key.Length == 0) throw new ArgumentException($"--api-key-file: {keyFile} is empty");
            }
            var templateName = parse.GetValue(chatTemplate);
            var template = string.IsNullOrEmpty(templateName) ? null : ChatTemplate.FromName(templateName);
            using var loaded = run.Load(parse, parse.GetValue(model)!);
            var (config, _) = rope.Apply(loaded.Config, parse, loaded.Source);
            var m = LoraOption.Apply(parse.GetValue(lora), loaded.With(config), stdout);
            var tok = GenerateCommand.LoadTokenizer(parse.GetValue(tokenizer), m);
            if (parse.GetValue(context) is < 1) throw new ArgumentException("--context must be ≥ 1");
            using var modelHost = new ModelHost(m, tok, new ModelHostOptions
            {
                Slots = parse.GetValue(parallel),
                ContextLength = parse.GetValue(context) ?? 0,
                QueueLimit = parse.GetValue(queue),
                ModelName = parse.GetValue(alias),
                Template = template,
            });
            var server = new OpenAiServer(modelHost, new OpenAiServerOptions
            {
                Host = parse.GetValue(host)!,
                Port = parse.GetValue(port),
                ApiKey = key,
                MaxRequestBodyBytes = parse.GetValue(maxBody),
                Log = stdout,
            });
            // Ctrl+C (SIGINT) and SIGTERM stop the server gracefully, whichever way the command was invoked.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            using var sigint = OnSignal(PosixSignal.SIGINT, stop);
            using var sigterm = OnSignal(PosixSignal.SIGTERM, stop);
            try
            {
                server.StartAsync(stop.Token).GetAwaiter().GetResult();
                stdout.WriteLine("press Ctrl+C to stop");
                stdout.Flush();
                server.RunAsync(stop.Token).GetAwaiter().GetResult();
            }
            finally
            {
                server.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            stdout.WriteLine("stopped");
            return 0;
        })));
        return cmd;
    }

    private static PosixSignalRegistration? OnSignal(PosixSignal signal, CancellationTokenSource stop)
    {
        try
        {
            return PosixSignalRegistration.Create(signal, context =>
            {
                context.Cancel = true; // not the default termination: the server shuts down and the command returns
                stop.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }
}
