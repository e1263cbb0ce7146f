using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Elongate.Training.Distributed;

namespace Elongate.Bench;

/// <summary>
/// `mpirun -np N dotnet Elongate.Bench.dll allreduce [--floats 1,65536,19800000] [--reps 10] [--out allreduce.json]`:
/// the time of one in-place fp32 MPI_Allreduce (sum) of each size through the same binding the trainers use, with a
/// barrier before each so rank skew is not counted; median and best over the repetitions, and the "bus bandwidth"
/// 2(N − 1)/N × bytes / time that a ring allreduce moves per rank (comparable across N). Rank 0 prints.
/// </summary>
internal static class AllreduceBench
{
    public static int Run(string[] args)
    {
        var comm = Communicator.World;
        long[] sizes = [1, 1 << 16, 1 << 20, 19_800_000];
        int reps = 10;
        string? output = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--floats": sizes = args[++i].Split(',').Select(s => (long)double.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--reps": reps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--out": output = args[++i]; break;
                default: Console.Error.WriteLine($"allreduce: unknown option {args[i]}"); return 2;
            }
        }
        var results = new List<object>();
        if (comm.Rank == 0) Console.WriteLine($"ranks {comm.Size}; fp32 in-place MPI_Allreduce(SUM), {reps} repetitions after 2 warm-ups");
        if (comm.Rank == 0) Console.WriteLine("floats       MB   median ms     best ms   bus GB/s");
        foreach (long n in sizes)
        {
            var buffer = new float[n];
            Array.Fill(buffer, 1f);
            var times = new List<double>();
            for (int r = 0; r < reps + 2; r++)
            {
                comm.Barrier();
                var sw = Stopwatch.StartNew();
                comm.AllreduceSum(buffer);
                double ms = sw.Elapsed.TotalMilliseconds;
                if (r >= 2) times.Add(ms);
            }
            // Every element is now 1·N^(reps+2) only if nothing went wrong; checking one element catches a broken call.
            if (!(buffer[0] > 0)) throw new InvalidOperationException("allreduce returned a non-positive sum");
            times.Sort();
            double median = times[times.Count / 2], best = times[0];
            double bus = 2.0 * (comm.Size - 1) / comm.Size * n * 4 / (median / 1e3) / 1e9;
            results.Add(new { floats = n, bytes = n * 4, median_ms = median, best_ms = best, bus_gb_per_s = bus });
            if (comm.Rank == 0)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{n,-10} {n * 4 / 1e6,6:F1} {median,11:F3} {best,11:F3} {bus,10:F2}"));
        }
        if (comm.Rank == 0 && output is not null)
            File.WriteAllText(output, JsonSerializer.Serialize(new { ranks = comm.Size, reps, results }, new JsonSerializerOptions { WriteIndented = true }));
        Communicator.Shutdown(0);
        return 0;
    }
}
