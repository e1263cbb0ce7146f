using System.CommandLine;
using System.Globalization;
using Elongate.Evaluation;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Rope;
using Elongate.Tokenization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Elongate.Cli.Commands;

/// <summary>What every `eval` command writes into results.json around its report: where the numbers came from.</summary>
internal sealed record EvalRun(string Task, string Model, string Tokenizer, string? Data, double RopeTheta, RopeScaling? RopeScaling,
    IReadOnlyList<string> RopeOverridden, int TrainedContext, object Report);

/// <summary>
/// The options and plumbing the `eval` commands share: model + tokenizer + RoPE overrides, grid parsing, the output
/// folder (results.json written atomically, PNGs), Spectre tables on stdout and progress lines on stderr.
/// </summary>
internal sealed class EvalSupport
{
    public Option<string> Model { get; } = new("--model", "-m") { Description = "Model: GGUF, llama2.c .bin, or a Hugging Face folder", Required = true };
    public Option<string?> Tokenizer { get; } = new("--tokenizer", "-z") { Description = "tokenizer.model, tokenizer.bin, tokenizer.json (or its folder) or a GGUF (default: the model's own vocabulary)" };
    public Option<string> Lengths { get; }
    public Option<string> Out { get; }
    public Option<int> Context { get; } = new("--context", "-c") { Description = "Session context in tokens (default: the largest length plus the generation budget)" };
    public RopeOverrides Rope { get; } = new();
    public ModelOptions Running { get; } = new();

    public EvalSupport(string task, string defaultLengths)
    {
        Lengths = new Option<string>("--lengths") { Description = "Comma-separated target lengths in tokens, e.g. 128,256,512", DefaultValueFactory = _ => defaultLengths };
        Out = new Option<string>("--out", "-o") { Description = "Output folder for results.json and the PNG", DefaultValueFactory = _ => Path.Combine("elongate-eval", task) };
    }

    /// <summary>Adds the shared options; <paramref name="withContext"/> is false for tasks that generate nothing (the session is then sized by the longest length).</summary>
    public void AddTo(Command cmd, bool withContext = true)
    {
        foreach (var o in new Option[] { Model, Tokenizer, Lengths, Out }) cmd.Options.Add(o);
        if (withContext) cmd.Options.Add(Context);
        Rope.AddTo(cmd);
        Running.AddTo(cmd);
    }

    /// <summary>The model with the command line's RoPE overrides applied, its tokenizer, and what was overridden.</summary>
    public (LlamaModel Model, ITokenizer Tokenizer, IReadOnlySet<string> Overridden) Load(ParseResult parse)
    {
        var m = Running.Load(parse, parse.GetValue(Model)!);
        var (config, changed) = Rope.Apply(m.Config, parse, m.Source);
        m = m.With(config);
        return (m, GenerateCommand.LoadTokenizer(parse.GetValue(Tokenizer), m), changed);
    }

    public EvalRun Run(string task, ParseResult parse, LlamaModel model, IReadOnlySet<string> overridden, string? data, object report) =>
        new(task, parse.GetValue(Model)!, parse.GetValue(Tokenizer) ?? "(model's own vocabulary)", data, model.Config.RopeTheta, model.Config.RopeScaling,
            overridden.Order().ToList(), model.Config.MaxPositionEmbeddings, report);

    public int[] ParseLengths(ParseResult parse) => ParseInts(parse.GetValue(Lengths)!, "--lengths");

    public static int[] ParseInts(string text, string option)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException($"{option}: give at least one value");
        return items.Select(s => int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : throw new ArgumentException($"{option}: '{s}' is not a positive integer")).ToArray();
    }

    public static double[] ParseDepths(string text)
    {
        var items = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Length == 0) throw new ArgumentException("--depths: give at least one value");
        return items.Select(s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0 && v <= 1
            ? v : throw new ArgumentException($"--depths: '{s}' is not a number in [0, 1]")).ToArray();
    }

    /// <summary>The output folder (created), and the paths of results.json and the named PNG inside it.</summary>
    public (string Json, string Png) OutputPaths(ParseResult parse, string png)
    {
        var dir = Path.GetFullPath(parse.GetValue(Out)!);
        Directory.CreateDirectory(dir);
        return (Path.Combine(dir, "results.json"), Path.Combine(dir, png));
    }

    /// <summary>A Spectre console that writes plain text (no colour, no ANSI) to <paramref name="writer"/>, so tables survive redirection.</summary>
    public static IAnsiConsole Console(TextWriter writer)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = AnsiSupport.No,
            ColorSystem = ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        console.Profile.Width = 160;
        return console;
    }

    /// <summary>A table whose cells are plain text (no markup interpretation of generated text).</summary>
    public static Table Table(string title, params string[] columns)
    {
        var t = new Table { Title = new TableTitle(Markup.Escape(title)), Border = TableBorder.Rounded };
        foreach (var c in columns) t.AddColumn(new TableColumn(new Text(c)).RightAligned());
        return t;
    }

    public static void AddRow(Table table, params string[] cells) => table.AddRow(cells.Select(c => (IRenderable)new Text(c)).ToArray());

    /// <summary>Progress: one line per finished cell on stderr, flushed so long grids show life.</summary>
    public static Action<string> Progress(TextWriter stderr) => line => { stderr.WriteLine(line); stderr.Flush(); };

    public static string F(double v, string format = "F3") => v.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A lengths × depths table of cell scores (rows: depths, columns: lengths) with a mean row.</summary>
    public static Table Grid(RetrievalReport report, string title)
    {
        var t = Table(title, ["depth \\ length", .. report.Lengths.Select(l => l.ToString(CultureInfo.InvariantCulture))]);
        foreach (var d in report.Depths)
            AddRow(t, [d.ToString("0%", CultureInfo.InvariantCulture), .. report.Lengths.Select(l => F(report.ScoreAt(l, d), "F2"))]);
        AddRow(t, ["mean", .. report.Lengths.Select(l => F(report.Depths.Average(d => report.ScoreAt(l, d)), "F2"))]);
        AddRow(t, ["prompt tokens", .. report.Lengths.Select(l => F(report.Cells.Where(c => c.Length == l).Average(c => c.MeanPromptTokens), "F0"))]);
        return t;
    }

    /// <summary>At most <paramref name="max"/> characters of one line of generated text, for tables.</summary>
    public static string Clip(string s, int max = 60)
    {
        s = s.ReplaceLineEndings(" ").Trim();
        return s.Length <= max ? s : s[..(max - 1)] + "…";
    }
}
