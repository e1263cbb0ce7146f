using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Elongate.Common;
using Elongate.Data;
using Elongate.Experiments;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Tokenization;

namespace Elongate.Bench;

/// <summary>
/// The self-instruct miniature (docs/self-instruct-mini.md), in two steps around `elongate train` and `elongate finetune`:
/// <list type="bullet">
/// <item>`selfinstruct-mini prepare --out DIR [--corpus DIR] [--tokenizer T] [--train-docs 900] [--test-docs 60]
/// [--doc-tokens 300,440] [--chunk-tokens 64] [--pairs-per-doc 24] [--max-context 512] [--answer sentence|word] [--seed 1]`: cuts documents of
/// 300–440 tokens from four fixture books (training) and from Moby Dick (held out), plants one fact "The password of
/// the ADJ NOUN is VALUE." at a random sentence boundary of each, runs <see cref="SelfInstructor"/> with
/// <see cref="PasswordTeacher"/> over the training documents (DIR/train.jsonl, its report and evidence plot), and
/// writes the held-out documents' questions in the same chat form (DIR/test.jsonl). Every key is used once.</item>
/// <item>`selfinstruct-mini score -m MODEL.gguf --questions DIR/test.jsonl [--chat-template chatml] [--remove-facts] [--out FILE.json]`:
/// asks the model each question (greedy, the whole document in the user turn, one conversation each, as
/// `elongate generate --chat` does) and counts replies whose value (the word after "is", else the first word) is the answer; --remove-facts takes the
/// planted sentence out of each document first (the control: what the model gets right without the evidence).</item>
/// </list>
/// </summary>
internal static partial class SelfInstructMini
{
    private static readonly string[] TrainBooks = ["pride_and_prejudice.txt", "frankenstein.txt", "dracula.txt", "a_tale_of_two_cities.txt"];
    private const string TestBook = "moby_dick.txt";

    public static int Run(string[] args)
    {
        if (args.Length == 0 || args[0] is not ("prepare" or "score"))
        {
            Console.Error.WriteLine("selfinstruct-mini: give prepare or score (see bench/Elongate.Bench/SelfInstructMini.cs)");
            return 2;
        }
        try
        {
            return args[0] == "prepare" ? Prepare(args[1..]) : Score(args[1..]);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"selfinstruct-mini {args[0]}: {e.Message}");
            return 2;
        }
    }

    private static string Value(string[] args, ref int i) =>
        i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");

    private static int Int(string[] args, ref int i) =>
        int.TryParse(Value(args, ref i), CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"{args[i - 1]}: '{args[i]}' is not an integer");

    private static int Prepare(string[] args)
    {
        string? outDir = null;
        string corpus = "../shared/fixtures/corpus", tokenizerPath = "../shared/fixtures/tokenizers/tok512.model";
        int trainDocs = 900, testDocs = 60, minTokens = 300, maxTokens = 440, chunk = 64, pairs = 24, maxContext = 512;
        ulong seed = 1;
        bool sentence = true;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--out": outDir = Value(args, ref i); break;
                case "--corpus": corpus = Value(args, ref i); break;
                case "--tokenizer": tokenizerPath = Value(args, ref i); break;
                case "--train-docs": trainDocs = Int(args, ref i); break;
                case "--test-docs": testDocs = Int(args, ref i); break;
                case "--doc-tokens":
                    var range = Value(args, ref i).Split(',');
                    if (range.Length != 2 || !int.TryParse(range[0], CultureInfo.InvariantCulture, out minTokens) || !int.TryParse(range[1], CultureInfo.InvariantCulture, out maxTokens) || minTokens < 32 || maxTokens < minTokens)
                        throw new ArgumentException($"--doc-tokens wants MIN,MAX with 32 ≤ MIN ≤ MAX, got '{args[i]}'");
                    break;
                case "--chunk-tokens": chunk = Int(args, ref i); break;
                case "--pairs-per-doc": pairs = Int(args, ref i); break;
                case "--max-context": maxContext = Int(args, ref i); break;
                case "--seed": seed = ulong.Parse(Value(args, ref i), CultureInfo.InvariantCulture); break;
                case "--answer":
                    sentence = Value(args, ref i) switch
                    {
                        "sentence" => true,
                        "word" => false,
                        var other => throw new ArgumentException($"--answer wants sentence or word, got '{other}'"),
                    };
                    break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (outDir is null) throw new ArgumentException("give --out DIR");
        if (trainDocs < 1 || testDocs < 1) throw new ArgumentException("--train-docs and --test-docs must be ≥ 1");
        if (trainDocs + testDocs > PasswordFacts.Adjectives.Length * PasswordFacts.Nouns.Length)
            throw new ArgumentException($"at most {PasswordFacts.Adjectives.Length * PasswordFacts.Nouns.Length} documents in all: each needs its own key");
        foreach (var book in TrainBooks.Append(TestBook))
            if (!File.Exists(Path.Combine(corpus, book))) throw new ArgumentException($"--corpus: {Path.Combine(corpus, book)} does not exist");
        var tok = TokenizerLoader.Load(tokenizerPath);
        var watch = Stopwatch.StartNew();

        // Keys drawn without replacement: no two documents share a question, and no held-out key was seen in training.
        var rng = new SplitMix64(seed);
        var keys = PasswordFacts.ShuffledKeys(ref rng);
        var trainDir = Path.Combine(outDir, "docs-train");
        var testDir = Path.Combine(outDir, "docs-test");
        foreach (var d in new[] { trainDir, testDir })
        {
            if (Directory.Exists(d)) Directory.Delete(d, true);
            Directory.CreateDirectory(d);
        }
        var books = TrainBooks.Select(b => PasswordFacts.Sentences(File.ReadAllText(Path.Combine(corpus, b)))).ToArray();
        var test = PasswordFacts.Sentences(File.ReadAllText(Path.Combine(corpus, TestBook)));
        var facts = new List<(string Name, string Text, string Key, string Value, int FactToken, int Tokens)>();
        for (int d = 0; d < trainDocs + testDocs; d++)
        {
            bool held = d >= trainDocs;
            var sentences = held ? test : books[d % books.Length];
            var key = keys[d];
            var value = PasswordFacts.Values[rng.NextInt(PasswordFacts.Values.Length)];
            int target = minTokens + rng.NextInt(maxTokens - minTokens + 1);
            var (text, factToken, tokens) = PasswordFacts.Document(sentences, tok, target, PasswordTeacher.Fact(key, value), ref rng);
            var name = held ? $"test-{d - trainDocs:D4}.txt" : $"train-{d:D4}.txt";
            File.WriteAllText(Path.Combine(held ? testDir : trainDir, name), text);
            facts.Add((name, text, key, value, factToken, tokens));
        }
        double cutSeconds = watch.Elapsed.TotalSeconds;

        var output = Path.Combine(outDir, "train.jsonl");
        foreach (var f in new[] { output, SelfInstructor.RejectedPathFor(output) }) File.Delete(f);
        var options = new SelfInstructOptions
        {
            Documents = [trainDir], OutputPath = output, Tokenizer = tok, ChunkTokens = chunk, PairsPerDocument = pairs, MaxContext = maxContext,
            Kinds = [SelfInstructKind.Short], Seed = seed, Concurrency = 2,
        };
        var report = SelfInstructor.RunAsync(options, new PasswordTeacher(sentence)).GetAwaiter().GetResult();

        // Held out: the same chat form as the self-instruct output, from documents training never saw.
        var testLines = new StringBuilder();
        foreach (var f in facts.Where(f => f.Name.StartsWith("test-", StringComparison.Ordinal)))
        {
            var line = new JsonObject
            {
                ["messages"] = new JsonArray(
                    new JsonObject { ["role"] = "user", ["content"] = f.Text + "\n\n" + PasswordTeacher.Question(f.Key) },
                    new JsonObject { ["role"] = "assistant", ["content"] = sentence ? PasswordTeacher.Fact(f.Key, f.Value) : f.Value }),
                ["source"] = f.Name, ["answer"] = f.Value, ["fact_token_offset"] = f.FactToken, ["document_tokens"] = f.Tokens,
            };
            testLines.Append(line.ToJsonString()).Append('\n');
        }
        AtomicFile.WriteAllText(Path.Combine(outDir, "test.jsonl"), testLines.ToString());
        var trainFacts = facts.Where(f => f.Name.StartsWith("train-", StringComparison.Ordinal)).ToList();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"documents: {trainDocs} training ({string.Join(", ", TrainBooks)}), {testDocs} held out ({TestBook}); {trainFacts.Average(f => f.Tokens):F0} tokens on average, the fact at token {trainFacts.Min(f => f.FactToken)}–{trainFacts.Max(f => f.FactToken)} ({cutSeconds:F1} s)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"self-instruct: {report.WorkItems} work items over {report.Chunks} chunks, {report.Generated} generated, rejected {string.Join(", ", report.Rejected.Select(r => $"{r.Key} {r.Value}"))}; kept {report.Kept} ({report.Seconds:F1} s)"));
        Console.WriteLine($"evidence position histogram (10 bins): {string.Join(" ", report.EvidencePositionHistogram)}");
        Console.WriteLine($"training documents with at least one kept pair: {File.ReadLines(output).Select(l => (string?)JsonNode.Parse(l)?["source"]).Distinct().Count()}/{trainDocs}");
        Console.WriteLine($"wrote {Path.GetFullPath(output)}, {SelfInstructor.ReportPathFor(Path.GetFullPath(output))}, {Path.GetFullPath(Path.Combine(outDir, "test.jsonl"))}");
        return 0;
    }

    private static int Score(string[] args)
    {
        string? modelPath = null, questions = null, outPath = null, templateName = "chatml";
        int maxNew = 24;
        bool removeFacts = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-m" or "--model": modelPath = Value(args, ref i); break;
                case "--questions": questions = Value(args, ref i); break;
                case "--chat-template": templateName = Value(args, ref i); break;
                case "-n": maxNew = Int(args, ref i); break;
                case "--out": outPath = Value(args, ref i); break;
                case "--remove-facts": removeFacts = true; break;
                default: throw new ArgumentException($"unknown option {args[i]}");
            }
        }
        if (modelPath is null || questions is null) throw new ArgumentException("give -m MODEL and --questions FILE.jsonl");
        if (!File.Exists(questions)) throw new ArgumentException($"--questions: {questions} does not exist");
        using var model = ModelLoader.Load(modelPath);
        var tok = model.Vocabulary is { } v ? TokenizerLoader.FromVocabulary(v, model.Source) : throw new ArgumentException($"{modelPath} carries no vocabulary");
        var template = ChatTemplate.FromName(templateName);
        var examples = File.ReadLines(questions).Where(l => l.Length > 0).Select((l, n) =>
        {
            var o = JsonNode.Parse(l) as JsonObject ?? throw new ArgumentException($"{questions}:{n + 1}: not a JSON object");
            var user = (string)o["messages"]![0]!["content"]!;
            // The control: the same question with the planted sentence taken out, so only a guess can be right.
            if (removeFacts) user = FactSentence().Replace(user, "");
            // test.jsonl names the answer; a self-instruct output (train.jsonl) has it in the assistant turn.
            var assistant = (string?)o["messages"]?[1]?["content"];
            var answer = (string?)o["answer"]
                ?? (assistant is null ? null : ValueAfterIs().Match(assistant) is { Success: true } m ? m.Groups[1].Value : assistant.Trim().TrimEnd('.'))
                ?? throw new ArgumentException($"{questions}:{n + 1}: no \"answer\" field and no assistant turn to take it from");
            return (user, answer.ToLowerInvariant(), (string?)o["source"] ?? $"line {n + 1}");
        }).ToList();
        // ChatSession keeps 64 tokens of room for the reply; the reply itself stays within the prompt + -n positions.
        int context = examples.Max(e => tok.Encode(template.Apply([new ChatTurn("user", e.Item1)], addAssistantPrompt: true), true, false, parseSpecial: true).Length) + 64 + maxNew;
        var chat = new ChatSession(new InferenceSession(model, context), tok, template);
        var sampler = new Sampler(SamplingOptions.Greedy);
        int right = 0, valueWords = 0;
        var replies = new JsonArray();
        var watch = Stopwatch.StartNew();
        foreach (var (user, answer, source) in examples)
        {
            chat.Reset();
            var reply = chat.Respond(user, maxNew, sampler).Text;
            // The value: the word after "is" when the reply restates the fact, else its first word.
            var word = (ValueAfterIs().Match(reply) is { Success: true } m ? m.Groups[1].Value : WordPattern().Match(reply.ToLowerInvariant()).Value).ToLowerInvariant();
            bool ok = word == answer;
            right += ok ? 1 : 0;
            valueWords += PasswordFacts.Values.Contains(word) ? 1 : 0;
            replies.Add(new JsonObject { ["source"] = source, ["answer"] = answer, ["reply"] = reply, ["correct"] = ok });
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(modelPath)}: {right}/{examples.Count} exact ({100.0 * right / examples.Count:F1}%), {valueWords}/{examples.Count} replies name one of the {PasswordFacts.Values.Length} answer words (chance of a right guess {100.0 / PasswordFacts.Values.Length:F1}%); {watch.Elapsed.TotalSeconds:F1} s"));
        foreach (var r in replies.Take(5)) Console.WriteLine($"  {r!["source"]}: answer {r["answer"]}, reply {JsonSerializer.Serialize((string)r["reply"]!)}");
        if (outPath is not null)
        {
            var result = new JsonObject
            {
                ["model"] = Path.GetFullPath(modelPath), ["questions"] = Path.GetFullPath(questions), ["correct"] = right, ["total"] = examples.Count,
                ["value_word_replies"] = valueWords, ["replies"] = replies,
            };
            AtomicFile.WriteAllText(outPath, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        }
        return 0;
    }

    [GeneratedRegex(@"The password of the \w+ \w+ is \w+\. ?")]
    private static partial Regex FactSentence();

    [GeneratedRegex(@"\bis (\w+)")]
    private static partial Regex ValueAfterIs();

    [GeneratedRegex(@"[a-z]+")]
    private static partial Regex WordPattern();
}
