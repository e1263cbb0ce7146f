using System.Text.Json;
using Elongate.Data;
using Elongate.Formats;
using Elongate.Tests.Cli;
using Elongate.Tokenization;

namespace Elongate.Tests.Data;

/// <summary>
/// <see cref="ChatMixer"/> and `elongate data chat-mix`: shares follow the weights exactly, upsampled sources repeat
/// evenly, the output is normalized chat JSON Lines with a report beside it, and the seed alone decides the result.
/// </summary>
public sealed class ChatMixTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("elongate-chatmix").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    /// <summary>A source of <paramref name="count"/> examples, alternating the three formats; answers "name-i".</summary>
    private string Source(string name, int count)
    {
        var lines = Enumerable.Range(0, count).Select(i => (i % 3) switch
        {
            0 => JsonSerializer.Serialize(new { messages = new[] { new { role = "user", content = $"question {i}" }, new { role = "assistant", content = $"{name}-{i}" } } }),
            1 => JsonSerializer.Serialize(new { instruction = $"do {i}", input = "with this", output = $"{name}-{i}" }),
            _ => JsonSerializer.Serialize(new { prompt = $"prompt {i}", completion = $"{name}-{i}" }),
        });
        var path = Path.Combine(_dir, name + ".jsonl");
        File.WriteAllLines(path, lines);
        return path;
    }

    private string Out => Path.Combine(_dir, "mix.jsonl");

    /// <summary>How often each answer occurs in the output.</summary>
    private Dictionary<string, int> Answers() =>
        InstructionReader.Read(Out).GroupBy(e => e.Messages[^1].Content).ToDictionary(g => g.Key, g => g.Count());

    [Fact]
    public void Weights_are_shares_of_the_total_and_an_upsampled_source_repeats_evenly()
    {
        var a = Source("a", 30);
        var b = Source("b", 10);
        var report = ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 1), new(b, 1)], OutputPath = Out, Total = 50, Seed = 3 });
        var answers = Answers();
        Assert.Equal(25, answers.Where(kv => kv.Key.StartsWith("a-")).Sum(kv => kv.Value));
        Assert.Equal(25, answers.Where(kv => kv.Key.StartsWith("b-")).Sum(kv => kv.Value));
        Assert.All(answers.Where(kv => kv.Key.StartsWith("a-")), kv => Assert.Equal(1, kv.Value)); // a subset, no repeats
        Assert.Equal(10, answers.Count(kv => kv.Key.StartsWith("b-")));
        Assert.All(answers.Where(kv => kv.Key.StartsWith("b-")), kv => Assert.InRange(kv.Value, 2, 3)); // 2 passes + 5 more
        Assert.Equal(50, report.Examples);
        Assert.Equal([(30, 25, 25), (10, 25, 10)], report.Sources.Select(s => (s.Available, s.Selected, s.Distinct)));
        Assert.Equal([0.5, 0.5], report.Sources.Select(s => s.Share));

        ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 3), new(b, 1)], OutputPath = Out, Total = 10 });
        answers = Answers();
        Assert.Equal((8, 2), (answers.Count(kv => kv.Key.StartsWith("a-")), answers.Count(kv => kv.Key.StartsWith("b-")))); // 7.5/2.5 → 8/2
    }

    [Fact]
    public void Without_weights_the_mix_is_every_example_once_normalized_to_chat_format_with_its_origin()
    {
        var a = Source("a", 7);
        var b = Source("b", 4);
        var report = ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, null), new(b, null)], OutputPath = Out });
        Assert.Equal(11, report.Examples);
        Assert.All(Answers().Values, n => Assert.Equal(1, n));
        var lines = File.ReadAllLines(Out);
        Assert.Equal(11, lines.Length);
        var originals = InstructionReader.Read(a).Concat(InstructionReader.Read(b)).ToDictionary(e => e.Id);
        foreach (var line in lines)
        {
            using var doc = JsonDocument.Parse(line);
            Assert.Equal(["messages", "source"], doc.RootElement.EnumerateObject().Select(p => p.Name));
            var original = originals[doc.RootElement.GetProperty("source").GetString()!];
            Assert.Equal(original.Messages, doc.RootElement.GetProperty("messages").EnumerateArray()
                .Select(m => new ChatTurn(m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!)));
        }
        // Alpaca's input came through as part of the user turn.
        Assert.Contains(lines, l => l.Contains("do 1\\n\\nwith this"));
        Assert.Equal(report.ToJson(), ChatMixReport.Load(ChatMixer.ReportPathFor(Out)).ToJson());
        Assert.Equal(Path.Combine(_dir, "mix.report.json"), ChatMixer.ReportPathFor(Out));
    }

    [Fact]
    public void The_seed_alone_decides_the_output()
    {
        var sources = new ChatMixSource[] { new(Source("a", 20), 2), new(Source("b", 20), 1) };
        byte[] Run(ulong seed)
        {
            ChatMixer.Mix(new ChatMixOptions { Sources = sources, OutputPath = Out, Seed = seed, Total = 30 });
            return File.ReadAllBytes(Out);
        }
        Assert.Equal(Run(9), Run(9));
        Assert.NotEqual(Run(9), Run(10));
    }

    [Fact]
    public void Source_specs_parse_weights_only_after_the_last_colon()
    {
        Assert.Equal(new ChatMixSource("a.jsonl", 2.5), ChatMixSource.Parse("a.jsonl:2.5"));
        Assert.Equal(new ChatMixSource("a.jsonl", null), ChatMixSource.Parse("a.jsonl"));
        Assert.Equal(new ChatMixSource(@"C:\data\a.jsonl", null), ChatMixSource.Parse(@"C:\data\a.jsonl"));
        Assert.Equal(new ChatMixSource(@"C:\data\a.jsonl", 3), ChatMixSource.Parse(@"C:\data\a.jsonl:3"));
        Assert.Throws<ArgumentException>(() => ChatMixSource.Parse("a.jsonl:-1"));
        Assert.Equal([3, 3, 4], ChatMixer.Apportion(10, [1 / 3.0, 1 / 3.0, 1 / 3.0 + 1e-9]));
        Assert.Equal([4, 3, 3], ChatMixer.Apportion(10, [1 / 3.0, 1 / 3.0, 1 / 3.0]));
    }

    [Fact]
    public void Bad_mixes_are_refused_before_writing()
    {
        var a = Source("a", 3);
        Assert.Throws<ArgumentException>(() => ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 1), new(a, null)], OutputPath = Out }));
        Assert.Throws<ArgumentException>(() => ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 0)], OutputPath = Out }));
        Assert.Throws<ArgumentException>(() => ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 1)], OutputPath = Out, Total = 0 }));
        File.WriteAllText(Path.Combine(_dir, "empty.jsonl"), "\n");
        Assert.Throws<ArgumentException>(() => ChatMixer.Mix(new ChatMixOptions { Sources = [new(a, 1), new(Path.Combine(_dir, "empty.jsonl"), 1)], OutputPath = Out }));
        Assert.False(File.Exists(Out));
    }

    [SkippableFact]
    public void Cli_mixes_measures_tokens_and_reports()
    {
        var tok = Fixtures.Path("tokenizers/tokenizer.model");
        var a = Source("short", 12);
        var b = Source("long", 4);
        var (rc, output, err) = CliTests.Run(["data", "chat-mix", "-s", a + ":3", "-s", b + ":1", "-o", Out, "--total", "20", "--seed", "4",
            "-z", tok, "--chat-template", "llama2"]);
        Assert.True(rc == 0, err + output);
        Assert.Contains("short.jsonl", output);
        Assert.Contains("chat mix: 20 examples", output);
        Assert.Contains("mix.report.json", output);
        var report = ChatMixReport.Load(ChatMixer.ReportPathFor(Out));
        Assert.Equal([15, 5], report.Sources.Select(s => s.Selected));
        Assert.Equal("llama2", report.ChatTemplate);
        // The token lengths are those of the examples as the renderer tokenizes them.
        var tokenizer = TokenizerLoader.Load(tok);
        var template = ChatTemplate.FromName("llama2");
        var lengths = InstructionReader.Read(Out).Select(e => InstructionRenderer.Tokenize(e, tokenizer, template).Length).ToList();
        Assert.Equal(lengths.Sum(), report.Lengths!.Tokens);
        Assert.Equal(lengths.Max(), report.Lengths.Max);
        Assert.Equal(report.Lengths.Tokens, report.Sources.Sum(s => s.Lengths!.Tokens));
    }

    [Fact]
    public void Cli_names_the_bad_line_and_writes_nothing()
    {
        var a = Source("a", 3);
        var bad = Path.Combine(_dir, "bad.jsonl");
        File.WriteAllLines(bad, ["""{"prompt":"p","completion":"c"}""", """{"messages":[{"role":"user","content":"q"}]}"""]);
        var (rc, output, err) = CliTests.Run(["data", "chat-mix", "-s", a, "-s", bad, "-o", Out]);
        Assert.Equal(1, rc);
        Assert.Contains($"{bad}: line 2: has no assistant turn", err + output);
        Assert.False(File.Exists(Out));
        Assert.False(File.Exists(ChatMixer.ReportPathFor(Out)));

        (rc, output, err) = CliTests.Run(["data", "chat-mix", "-s", a + ":1", "-s", a, "-o", Out]);
        Assert.Equal(2, rc);
        Assert.Contains("weight", err + output);
    }
}
