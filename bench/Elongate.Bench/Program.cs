using BenchmarkDotNet.Running;

// Benchmarks are a separate command, never part of the test suite:
//   dotnet run -c Release --project bench/Elongate.Bench -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
