using System.Reflection;

namespace Elongate.Tests.Rope;

/// <summary>Runs `elongate rope ...` through the CLI's entry point (same process, console captured).</summary>
public class RopeCommandTests
{
    private static (int Code, string Out) Run(params string[] args)
    {
        var entry = Assembly.Load("Elongate.Cli").EntryPoint!;
        var oldOut = Console.Out; var oldErr = Console.Error;
        var sw = new StringWriter();
        try
        {
            Console.SetOut(sw); Console.SetError(sw);
            int code = (int)entry.Invoke(null, [args])!;
            return (code, sw.ToString());
        }
        finally { Console.SetOut(oldOut); Console.SetError(oldErr); }
    }

    [Fact]
    public void Decay_WritesCsvAndPng_AndReportsHalvingDistances()
    {
        var dir = Directory.CreateTempSubdirectory("rope-cli-");
        try
        {
            var (code, output) = Run("rope", "decay", "--bases", "10000,500000", "--scaling", "linear:4", "--max-delta", "400", "--out", dir.FullName);
            Assert.True(code == 0, output);
            Assert.Matches(@"b=10000\s+46\b", output);
            Assert.Matches(@"b=500000\s+166\b", output);
            Assert.Matches(@"b=10000 linear s=4\s+183\b", output);
            Assert.True(File.Exists(Path.Combine(dir.FullName, "rope_decay.csv")));
            Assert.True(new FileInfo(Path.Combine(dir.FullName, "rope_decay.png")).Length > 1000);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Granularity_PrintsPaperNumbers()
    {
        var (code, output) = Run("rope", "granularity");
        Assert.True(code == 0, output);
        Assert.Matches(@"b=500000\s+0\.0762", output);
        Assert.Matches(@"b=10000 linear s=4\s+0\.0271", output);
    }

    [Fact]
    public void BadScaling_IsAClearError()
    {
        var (code, output) = Run("rope", "granularity", "--scaling", "linear:0.5");
        Assert.Equal(2, code);
        Assert.Contains("factor must be a finite number ≥ 1", output);
    }
}
