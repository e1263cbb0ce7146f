using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Elongate.Formats;
using Elongate.Tests.Oracles;
using Elongate.Tests.Tokenization;
using Elongate.Tokenization;

namespace Elongate.Bench;

/// <summary>
/// `tokenize` subcommand: encoding speed of the corpus books (fixtures corpus/, 11 public-domain books, 15.7 MB) with
/// each llama.cpp test vocabulary (fixtures tokenizers/ggml-vocab-*.gguf), for Elongate's encoder, llama.cpp's
/// (llama_tokenize through LLamaSharp 0.30.0, vocabulary-only load, parse_special off) and Microsoft.ML.Tokenizers 2.0.1
/// where it applies (BpeTokenizer in byte-level mode for the byte-level BPE vocabularies — with its own
/// RegexPreTokenizer for gpt-2, the only one-expression pre-tokenizer, else with ours; LlamaTokenizer from
/// tokenizer.model, the same Llama 2 vocabulary, for llama-spm). No BOS/EOS; one thread each.
/// </summary>
/// <remarks>
/// Each repetition encodes every book whole, in order, with a freshly built encoder (construction not timed), so the
/// word caches of ours and ML.Tokenizers start empty and fill over the books as in a long-lived process; the best of
/// the repetitions is reported. MB/s is UTF-8 megabytes (10⁶ bytes) of text per second, by wall time, or with
/// --cputime by the process's CPU time (every encoder is single-threaded), which other processes on a shared machine
/// do not inflate; the JSON has both. The ids of every engine are compared with llama.cpp's, whole book against whole
/// book.
/// </remarks>
internal static class TokenizeBench
{
    private static readonly string[] AllVocabularies = ["gpt-2", "deepseek-llm", "falcon", "starcoder", "phi-3", "llama-spm"];

    private sealed record Row(string Vocabulary, string Kind, long Bytes, long Tokens, double OursMBps, double LlamaCppMBps,
        double? MlMBps, string? MlImplementation, double OursOverLlamaCpp, bool OursIdsEqualLlamaCpp, bool? MlIdsEqualLlamaCpp,
        double OursWallMBps, double LlamaCppWallMBps, double? MlWallMBps, double OursCpuMBps, double LlamaCppCpuMBps, double? MlCpuMBps);

    private static bool s_cpuTime;

    public static int Run(string[] args)
    {
        string[] vocabularies = AllVocabularies;
        string[]? bookNames = null;
        string? fixtures = null, outPath = null, txtPath = null;
        int reps = 3;
        bool ml = true;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--vocab": vocabularies = args[++i].Split(','); break;
                case "--books": bookNames = args[++i].Split(','); break;
                case "--fixtures": fixtures = args[++i]; break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--no-ml": ml = false; break;
                case "--cputime": s_cpuTime = true; break;
                case "--out": outPath = args[++i]; break;
                case "--txt": txtPath = args[++i]; break;
                default:
                    Console.Error.WriteLine($"unknown option {args[i]}; usage: tokenize [--vocab gpt-2,deepseek-llm,falcon,starcoder,phi-3,llama-spm] [--books a.txt,b.txt] " +
                                            "[--reps 3] [--no-ml] [--cputime] [--fixtures DIR] [--out tokenize.json] [--txt tokenize.txt]");
                    return 2;
            }
        }
        fixtures ??= FindFixtures();
        if (fixtures is null)
        {
            Console.Error.WriteLine("fixtures not found: pass --fixtures DIR or set ELONGATE_FIXTURES");
            return 2;
        }
        var books = (bookNames ?? Directory.GetFiles(Path.Combine(fixtures, "corpus"), "*.txt").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!)
            .Select(b => (Name: b!, Text: Encoding.UTF8.GetString(File.ReadAllBytes(Path.Combine(fixtures, "corpus", b!))))).ToArray();
        var utf8 = books.Select(b => Encoding.UTF8.GetBytes(b.Text)).ToArray();
        long bytes = utf8.Sum(b => (long)b.Length);

        string load = LoadAverage();
        var header = new StringBuilder();
        header.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"CPU: {MachineInfo.CpuName()}, {Environment.ProcessorCount} logical cores; one thread per encoder; {books.Length} books, {bytes / 1e6:F1} MB; best of {reps}; " +
            $"MB/s by {(s_cpuTime ? "process CPU time" : "wall time")}; load average at start {load}"));
        LlamaCppOracle.EnsureNativeLibrary();
        header.AppendLine($"llama.cpp: LLamaSharp.Backend.Cpu 0.30.0 ({LlamaCppOracle.NativeLibraryDescription}), llama_tokenize called {(LlamaCppOracle.DirectTokenize ? "once per book" : "through LLamaSharp's two-pass wrapper")}");
        header.AppendLine("ML.Tokenizers 2.0.1: BpeTokenizer (ByteLevel; its RegexPreTokenizer for gpt-2, our pre-tokenizer for the multi-expression ones), LlamaTokenizer (tokenizer.model) for llama-spm");
        Console.Write(header);
        string columns = $"{"vocabulary",-13} {"kind",-5} {"tokens",9} | {"ours MB/s",9} {"llama.cpp",9} {"ML.Tok.",8} | {"ours/llama",10} {"ours ids",9} {"ML ids",7}";
        Console.WriteLine(columns);
        var table = new StringBuilder(header.ToString()).AppendLine(columns);

        var rows = new List<Row>();
        foreach (var vocab in vocabularies)
        {
            var path = Path.Combine(fixtures, "tokenizers", $"ggml-vocab-{vocab}.gguf");
            var probe = TokenizerLoader.Load(path);
            bool bpe = probe.Vocabulary.Kind == VocabularyKind.BytePairEncoding;

            using var llama = LlamaCppOracle.OpenVocabulary(path);
            int[][] theirs = new int[books.Length][];
            int[] buffer = new int[utf8.Max(b => b.Length) + 2];
            var tLlama = Best(reps, () => 0, _ =>
            {
                for (int b = 0; b < books.Length; b++)
                {
                    int n = llama.TokenizeUtf8(utf8[b], buffer, addBos: false);
                    theirs[b] = buffer.AsSpan(0, n).ToArray();
                }
            });

            var oursIds = new int[books.Length][];
            var tOurs = Best(reps, () => TokenizerLoader.Load(path), tok =>
            {
                for (int b = 0; b < books.Length; b++) oursIds[b] = tok.Encode(books[b].Text, addBos: false, addEos: false);
            });
            bool oursEqual = Enumerable.Range(0, books.Length).All(b => oursIds[b].AsSpan().SequenceEqual(theirs[b]));

            (double Wall, double Cpu)? tMl = null;
            bool? mlEqual = null;
            string? mlName = null;
            Func<ITokenizer>? makeMl = !ml ? null
                : bpe ? () => new MlTokenizersByteLevelBpe(probe.Vocabulary,
                    PreTokenizer.ForName(probe.Vocabulary.PreTokenizer!).Patterns.Count == 1 ? MlTokenizersByteLevelBpe.Split.MlRegex : MlTokenizersByteLevelBpe.Split.Elongate)
                : vocab == "llama-spm" ? () => MlLlama(fixtures)
                : null;
            if (makeMl is not null)
            {
                var mlIds = new int[books.Length][];
                tMl = Best(reps, makeMl, tok =>
                {
                    mlName = tok.Implementation;
                    for (int b = 0; b < books.Length; b++) mlIds[b] = tok.Encode(books[b].Text, addBos: false, addEos: false);
                });
                mlEqual = Enumerable.Range(0, books.Length).All(b => mlIds[b].AsSpan().SequenceEqual(theirs[b]));
            }

            double mb = bytes / 1e6;
            double Pick((double Wall, double Cpu) t) => s_cpuTime ? t.Cpu : t.Wall;
            var row = new Row(vocab, bpe ? "BPE" : "SPM", bytes, theirs.Sum(t => (long)t.Length), mb / Pick(tOurs), mb / Pick(tLlama),
                tMl is { } m0 ? mb / Pick(m0) : null, mlName, Pick(tLlama) / Pick(tOurs), oursEqual, mlEqual,
                mb / tOurs.Wall, mb / tLlama.Wall, tMl is { } m1 ? mb / m1.Wall : null, mb / tOurs.Cpu, mb / tLlama.Cpu, tMl is { } m2 ? mb / m2.Cpu : null);
            rows.Add(row);
            string line = string.Create(CultureInfo.InvariantCulture,
                $"{vocab,-13} {row.Kind,-5} {row.Tokens,9} | {row.OursMBps,9:F2} {row.LlamaCppMBps,9:F2} {(row.MlMBps is { } m ? m.ToString("F2", CultureInfo.InvariantCulture) : "-"),8} | " +
                $"{row.OursOverLlamaCpp,10:F2} {(oursEqual ? "same" : "DIFFER"),9} {(mlEqual is { } e ? (e ? "same" : "differ") : "-"),7}");
            Console.WriteLine(line);
            table.AppendLine(line);
        }
        string legend = $"MB/s = UTF-8 MB of book text encoded per {(s_cpuTime ? "CPU" : "wall")} second (whole books, fresh encoder per repetition); ids = whole-book ids compared with llama.cpp's.";
        Console.WriteLine(legend);
        table.AppendLine(legend);
        if (rows.Any(r => r.MlIdsEqualLlamaCpp == false))
        {
            const string note = "ML.Tokenizers' LlamaTokenizer differs on runs of repeated characters (merge order; TokenizerComparisonTests).";
            Console.WriteLine(note);
            table.AppendLine(note);
        }

        if (txtPath is not null) File.WriteAllText(txtPath, table.ToString());
        if (outPath is not null)
        {
            var doc = new
            {
                cpu = MachineInfo.CpuName(), logicalCores = Environment.ProcessorCount, reps, timing = s_cpuTime ? "process CPU time" : "wall time",
                loadAverageAtStart = load, books = books.Select(b => b.Name).ToArray(), bytes,
                llamaCpp = "LLamaSharp.Backend.Cpu 0.30.0, " + LlamaCppOracle.NativeLibraryDescription, llamaTokenizeDirect = LlamaCppOracle.DirectTokenize,
                mlTokenizers = "Microsoft.ML.Tokenizers 2.0.1", timestampUtc = DateTime.UtcNow, results = rows,
            };
            File.WriteAllText(outPath, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            Console.WriteLine($"wrote {outPath}");
        }
        return 0;
    }

    /// <summary>Best wall and best CPU time of <paramref name="reps"/> runs of <paramref name="run"/>, each on a fresh
    /// <paramref name="make"/>() (not timed), after one untimed warm-up run.</summary>
    private static (double Wall, double Cpu) Best<T>(int reps, Func<T> make, Action<T> run)
    {
        double wall = double.MaxValue, cpu = double.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (int r = 0; r <= reps; r++)
        {
            var subject = make();
            GC.Collect();
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            run(subject);
            double w = sw.Elapsed.TotalSeconds;
            process.Refresh();
            if (r == 0) continue;
            wall = Math.Min(wall, w);
            cpu = Math.Min(cpu, (process.TotalProcessorTime - cpu0).TotalSeconds);
        }
        return (wall, cpu);
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    private static MlTokenizersSentencePiece MlLlama(string fixtures)
    {
        var path = Path.Combine(fixtures, "tokenizers", "tokenizer.model");
        var bytes = File.ReadAllBytes(path);
        return new MlTokenizersSentencePiece(bytes, SentencePieceModelReader.Read(bytes, path));
    }

    /// <summary>$ELONGATE_FIXTURES, else shared/fixtures beside the repository (as the tests look for it).</summary>
    private static string? FindFixtures()
    {
        var env = Environment.GetEnvironmentVariable("ELONGATE_FIXTURES");
        if (!string.IsNullOrEmpty(env)) return Directory.Exists(env) ? env : null;
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Elongate.slnx")))
                {
                    var candidate = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "fixtures"));
                    if (Directory.Exists(candidate)) return candidate;
                }
        return null;
    }
}
