using BenchmarkDotNet.Running;
using Elongate.Bench;
using Elongate.Kernels;

// Benchmarks are separate commands, never part of the test suite:
//   dotnet run -c Release --project bench/Elongate.Bench -- gemm [--out gemm.json] [--reps 3] [--sizes 256,512] [--threads 1,2] [--isa avx2] [--quick]
//   dotnet run -c Release --project bench/Elongate.Bench -- train [--seq 256,1024] [--preset 20m] [--out train.json]   (tokens/s and MFU)
//   dotnet run -c Release --project bench/Elongate.Bench -- decode [--presets 5m,20m] [--vocab 4096,32000] [--out decode.json]  (vs llama.cpp)
//   dotnet run -c Release --project bench/Elongate.Bench -- elementwise [--rows 4096] [--dim 512] [--ffn 1408] [--reps 21]   (fused vs unfused SwiGLU / residual RMSNorm)
//   dotnet run -c Release --project bench/Elongate.Bench -- attention [--seq 256,1024,4096]   (FlashAttention fwd/bwd GFLOP/s)
//   dotnet run -c Release --project bench/Elongate.Bench -- quant [--types q4_0,q4_k] [--threads 1,2] [--rows 512] [--small] [--stream]   (quantized matvec GB/s, matmul GFLOP/s; --stream: from DRAM)
//   dotnet run -c Release --project bench/Elongate.Bench -- quant --matmul [--rows 512,4096] [--shapes 768x768,...] [--quick] [--cputime]   (prompt GFLOP/s per type vs fp32 Gemm)
//   dotnet run -c Release --project bench/Elongate.Bench -- memory [--seq 512,1024,2048,4096] [--out memory.json]
//   dotnet run -c Release --project bench/Elongate.Bench -- model [--shapes S,M,L] [--types q8_0,q4_0,q4_k_m] [--threads 2] [--pp 512] [--tg 128] [--quick] ...
//       (llama-bench: ours vs llama.cpp on generated GGUFs, each engine in its own process; `./elongate bench` runs this)
//   dotnet run -c Release --project bench/Elongate.Bench -- tokenize [--vocab gpt-2,phi-3] [--reps 3] [--no-ml] [--out tokenize.json] [--txt tokenize.txt]
//       (encoding MB/s on the corpus books: ours vs llama.cpp vs Microsoft.ML.Tokenizers, per llama.cpp test vocabulary)
//   dotnet run -c Release --project bench/Elongate.Bench -- selfinstruct-mini prepare --out DIR [--train-docs 900] [--test-docs 60] ...
//   dotnet run -c Release --project bench/Elongate.Bench -- selfinstruct-mini score -m MODEL.gguf --questions DIR/test.jsonl [--out score.json]
//       (the self-instruct miniature of docs/self-instruct-mini.md: planted-fact documents, a rule teacher, held-out exact match)
//   mpirun -np 2 dotnet bench/Elongate.Bench/bin/Release/net10.0/Elongate.Bench.dll allreduce [--floats 1,19800000] [--reps 10]
//       (fp32 MPI_Allreduce time and bus bandwidth through the trainers' binding, docs/mpi.md)
//   dotnet run -c Release --project bench/Elongate.Bench -- --filter '*'      (BenchmarkDotNet micro-benchmarks)
if (args.Length > 0 && args[0] == "gemm")
    return GemmBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "train")
    return TrainBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "elementwise")
    return ElementwiseBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "attention")
    return AttentionBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "decode")
    return DecodeBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "quant")
    return QuantBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "memory")
    return MemoryBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "tokenize")
    return TokenizeBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "selfinstruct-mini")
    return SelfInstructMini.Run(args[1..]);
if (args.Length > 0 && args[0] == "allreduce")
    return AllreduceBench.Run(args[1..]);
if (args.Length > 0 && args[0] == "model")
    return Elongate.Bench.LlamaBench.ModelBench.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
