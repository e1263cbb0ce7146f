using System.CommandLine;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Elongate.Cli;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tests.Serving;
using Elongate.Tests.Training;
using Elongate.Tokenization;
using Elongate.Training;

namespace Elongate.Tests.Cli;

/// <summary>
/// `elongate finetune` end to end on a tiny model carrying a llama2.c test vocabulary: JSON Lines in three formats →
/// packed/padded sequences → LoRA (merged) or full fine-tuning → the run's files; the adapter then loads through
/// `generate --lora` and `serve --lora` and gives exactly the merged model's greedy text; bad data fails by line.
/// </summary>
[Collection(ServingCollection.Name)]
public sealed partial class FineTuneCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-finetune-cli").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    /// <summary>A random 2-layer model with the test tokenizer's vocabulary, saved as GGUF.</summary>
    private string BaseModel()
    {
        var vocab = TokenizerLoader.Load(TrainingTestData.WriteTokenizer(Path.Combine(_dir, "tok"))).Vocabulary;
        var config = new LlamaConfig
        {
            HiddenSize = 32, IntermediateSize = 64, NumLayers = 2, NumHeads = 4, NumKvHeads = 2, VocabSize = vocab.Count, MaxPositionEmbeddings = 256,
        };
        var m = new LlamaTrainingModel<float>(config, 1, 8);
        m.InitializeRandom(3, std: 0.1);
        var path = Path.Combine(_dir, "base.gguf");
        GgufModelWriter.Save(path, m.ToModel("base"), GgufOutputType.F32, vocab);
        return path;
    }

    /// <summary>Key/value questions in the chat, Alpaca and prompt/completion formats, one per line.</summary>
    private string Data(string name, int count, int seed)
    {
        var rng = new Random(seed);
        var lines = new List<string>();
        string[] words = ["red", "tea", "sea", "hat", "one", "star"];
        for (int i = 0; i < count; i++)
        {
            string key = words[rng.Next(words.Length)], value = words[rng.Next(words.Length)];
            string context = $"the {key} is {value}.", question = $"what is the {key}?";
            lines.Add((i % 3) switch
            {
                0 => new JsonObject { ["messages"] = new JsonArray(
                        new JsonObject { ["role"] = "system", ["content"] = context },
                        new JsonObject { ["role"] = "user", ["content"] = question },
                        new JsonObject { ["role"] = "assistant", ["content"] = value }) }.ToJsonString(),
                1 => new JsonObject { ["instruction"] = question, ["input"] = context, ["output"] = value }.ToJsonString(),
                _ => new JsonObject { ["prompt"] = context + " " + question, ["completion"] = value }.ToJsonString(),
            });
        }
        var path = Path.Combine(_dir, name);
        File.WriteAllLines(path, lines);
        return path;
    }

    private static (int Rc, string Out, string Err) Run(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int rc = ElongateCli.Run(args, stdout, stderr);
        return (rc, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public async Task Lora_finetune_writes_the_run_and_the_adapter_serves_and_generates_as_the_merged_model()
    {
        var model = BaseModel();
        var train = Data("train.jsonl", 60, seed: 1);
        var val = Data("val.jsonl", 9, seed: 2);
        var run = Path.Combine(_dir, "run");
        var (rc, output, err) = Run("finetune", "-m", model, "-d", train, "--val-data", val, "--chat-template", "chatml", "--seq-len", "128",
            "--tokens-per-step", "512", "--batch-size", "2", "--epochs", "2", "--lr", "1e-2", "--lora-rank", "4", "--lora-dropout", "0.1", "--merge",
            "--out", run, "--log-every", "1");
        Assert.True(rc == 0, err + output);
        Assert.Contains("fine-tuning", output);
        Assert.Contains("with chat template chatml", output);
        Assert.Contains("data: 60 examples", output);
        Assert.Contains("validation: 9 examples", output);
        Assert.Contains("LoRA r=4 alpha=8 (q,k,v,o,gate,up,down, dropout 0.1)", output);
        Assert.Contains("base frozen in fp32", output);
        Assert.Contains("done:", output);
        foreach (var f in new[] { "checkpoint.elft", "metrics.jsonl", "loss.png", "data-report.json", "val-data-report.json", "sequences.bin", "validation.bin",
                     "model.gguf", "hf/model.safetensors", "adapter/adapter_model.safetensors", "adapter/adapter_config.json" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        var metrics = File.ReadAllLines(Path.Combine(run, "metrics.jsonl"));
        var adapterConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "adapter", "adapter_config.json")))!;
        Assert.Equal(Path.GetFullPath(model), (string?)adapterConfig["base_model_name_or_path"]);
        Assert.True(metrics.Length >= 2);

        // The adapter on the base generates exactly what the merged export generates.
        string[] prompt = ["-p", "the sea is tea. what is the sea?", "-n", "6"];
        var merged = Run(["generate", "-m", Path.Combine(run, "model.gguf"), .. prompt]);
        var adapted = Run(["generate", "-m", model, "--lora", run, .. prompt]);
        Assert.True(merged.Rc == 0 && adapted.Rc == 0, merged.Err + adapted.Err);
        Assert.Equal(merged.Out, adapted.Out);
        Assert.Contains("lora:", adapted.Err);
        Assert.Contains("14 adapted projections", adapted.Err); // 2 layers × 7

        // serve --lora answers with the same greedy continuation.
        var stdout = new StringWriter();
        var outSync = TextWriter.Synchronized(stdout);
        using var cts = new CancellationTokenSource();
        var config = new InvocationConfiguration { Output = outSync, Error = TextWriter.Synchronized(new StringWriter()), ProcessTerminationTimeout = null };
        var serving = Task.Run(() => ElongateCli.Build().Parse(["serve", "-m", model, "--lora", Path.Combine(run, "adapter"), "--port", "0", "--context", "128"])
            .InvokeAsync(config, cts.Token));
        string banner = "";
        for (int i = 0; i < 600 && !banner.Contains("press Ctrl+C") && !serving.IsCompleted; i++)
        {
            await Task.Delay(50);
            lock (outSync) banner = stdout.ToString();
        }
        var url = UrlPattern().Match(banner) is { Success: true } m ? m.Value : null;
        Assert.True(url is not null, $"no URL printed: {banner}");
        Assert.Contains("lora:", banner);
        using (var http = new HttpClient { BaseAddress = new Uri(url!) })
        {
            using var response = await http.PostAsJsonAsync("/v1/completions", new { prompt = prompt[1], max_tokens = 6, temperature = 0 });
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            Assert.Equal(200, (int)response.StatusCode);
            var text = (string)body["choices"]![0]!["text"]!;
            Assert.EndsWith(text + "\n", merged.Out);
        }
        cts.Cancel();
        Assert.Equal(0, await serving.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Full_finetune_with_loss_on_the_input_and_resume_of_a_finished_run()
    {
        var model = BaseModel();
        var train = Data("train.jsonl", 30, seed: 3);
        var run = Path.Combine(_dir, "full");
        var (rc, output, err) = Run("finetune", "-m", model, "-d", train, "--chat-template", "chatml", "--seq-len", "192", "--loss", "answers+input",
            "--loss-weighting", "examples", "--tokens-per-step", "384", "--epochs", "1", "--checkpoint-every", "2", "--out", run);
        Assert.True(rc == 0, err + output);
        Assert.Contains("answers+input", output);
        Assert.Contains("training: every weight", output);
        Assert.True(File.Exists(Path.Combine(run, "model.gguf")));
        Assert.False(Directory.Exists(Path.Combine(run, "adapter")));
        var report = JsonNode.Parse(File.ReadAllText(Path.Combine(run, "data-report.json")))!;
        Assert.Equal("AnswersAndInput", report["loss"]!.ToString());

        // The run is complete: resuming it only rewrites the exports; starting over in the same folder is refused.
        (rc, output, err) = Run("finetune", "--resume", run);
        Assert.True(rc == 0, err + output);
        // Options that would contradict the checkpoint are refused, not silently ignored.
        (rc, _, err) = Run("finetune", "--resume", run, "--epochs", "3", "--lr", "1e-3");
        Assert.Equal(2, rc);
        Assert.Contains("--epochs, --lr cannot be given", err);
        (rc, _, err) = Run("finetune", "-m", model, "-d", train, "--chat-template", "chatml", "--seq-len", "192", "--out", run);
        Assert.Equal(2, rc);
        Assert.Contains("--resume", err);
    }

    [Fact]
    public void Bad_data_and_options_fail_with_one_clear_line()
    {
        var model = BaseModel();
        var good = Data("good.jsonl", 3, seed: 4);
        var bad = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(bad, [File.ReadAllLines(good)[0], File.ReadAllLines(good)[1], "{\"messages\": [oops"]);
        var (rc, _, err) = Run("finetune", "-m", model, "-d", bad, "--chat-template", "chatml", "--seq-len", "128", "--out", Path.Combine(_dir, "r1"));
        Assert.Equal(1, rc);
        Assert.Contains("bad.jsonl", err);
        Assert.Contains("3", err);

        var noAnswer = Path.Combine(_dir, "noanswer.jsonl");
        File.WriteAllLines(noAnswer, ["{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}"]);
        (rc, _, err) = Run("finetune", "-m", model, "-d", noAnswer, "--chat-template", "chatml", "--seq-len", "128", "--out", Path.Combine(_dir, "r2"));
        Assert.Equal(1, rc);
        Assert.Contains("assistant", err);

        (rc, _, err) = Run("finetune", "-m", model, "-d", good, "--chat-template", "chatml", "--seq-len", "16", "--out", Path.Combine(_dir, "r3"));
        Assert.Equal(1, rc);
        Assert.Contains("--drop-too-long", err);

        (rc, _, err) = Run("finetune", "-m", model, "-d", good, "--chat-template", "chatml", "--seq-len", "128", "--lora-rank", "4", "--lora-targets", "q,lm_head",
            "--out", Path.Combine(_dir, "r4"));
        Assert.Equal(2, rc);
        Assert.Contains("lm_head", err);

        (rc, _, err) = Run("finetune", "-m", model, "-d", good, "--chat-template", "chatml", "--seq-len", "128", "--merge", "--out", Path.Combine(_dir, "r5"));
        Assert.Equal(2, rc);
        Assert.Contains("--merge", err);

        (rc, _, err) = Run("generate", "-m", model, "--lora", Path.Combine(_dir, "no-adapter"), "-n", "1");
        Assert.Equal(1, rc);
        Assert.Contains("adapter", err);
    }

    [GeneratedRegex(@"http://127\.0\.0\.1:\d+")]
    private static partial Regex UrlPattern();
}
