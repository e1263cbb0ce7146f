using System.Buffers.Binary;
using System.Text;
using Xunit.Abstractions;

namespace Elongate.Tests.Oracles;

/// <summary>
/// Proves that llama.cpp (via LLamaSharp) loads and behaves as a usable oracle on this machine, and measures how close
/// its CPU arithmetic is to an exact (float64) Llama 2 forward pass written out independently below.
/// </summary>
public sealed class LlamaCppOracleTests(ITestOutputHelper output)
{
    private const string TinyModel = "models/llama-2-tiny-random.gguf";

    // BOS + "Hello world" with the Llama 2 tokenizer: 15043 = "▁Hello", 3186 = "▁world" (also line 11 of
    // ggml-vocab-llama-spm.gguf.out, llama.cpp's own expected output).
    private static readonly int[] HelloWorld = [1, 15043, 3186];

    [SkippableFact]
    public void TinyRandomLoadsWithItsShape()
    {
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 64);
        output.WriteLine($"native library: {LlamaCppOracle.NativeLibraryDescription}");
        Assert.Equal(32000, oracle.VocabSize);
        Assert.Equal(8, oracle.EmbeddingSize);
        Assert.Equal(1, oracle.LayerCount);
        Assert.Equal(256, oracle.ContextSize); // 64 rounded up to llama.cpp's padding of 256
        Assert.Equal(1, oracle.BosId);
        Assert.Equal(2, oracle.EosId);
    }

    [SkippableFact]
    public void LogitsAreFiniteAndDeterministic()
    {
        var path = Fixtures.Path(TinyModel);
        using var oracle = LlamaCppOracle.Open(path, contextSize: 64);
        Assert.Equal(HelloWorld, oracle.Tokenize("Hello world", addBos: true));

        var first = oracle.Logits(HelloWorld);
        Assert.Equal(HelloWorld.Length, first.Length);
        foreach (var row in first)
        {
            Assert.Equal(32000, row.Length);
            Assert.All(row, v => Assert.True(float.IsFinite(v)));
            Assert.True(row.Max() > row.Min(), "a logits row is constant");
        }
        // Rows differ by position: the model is causal and position-dependent.
        Assert.NotEqual(first[0], first[1]);

        var again = oracle.Logits(HelloWorld);
        using var other = LlamaCppOracle.Open(path, contextSize: 64);
        var fresh = other.Logits(HelloWorld);
        for (var i = 0; i < first.Length; i++)
        {
            Assert.Equal(first[i], again[i]); // bit-identical: same instance, cache cleared between calls
            Assert.Equal(first[i], fresh[i]); // bit-identical: a second model and context
        }

        // Causality: the logits of a prefix do not depend on what follows it.
        var prefix = oracle.Logits(HelloWorld.AsSpan(0, 2));
        var maxDiff = 0.0;
        for (var i = 0; i < 2; i++)
            for (var v = 0; v < prefix[i].Length; v++)
                maxDiff = Math.Max(maxDiff, Math.Abs(prefix[i][v] - first[i][v]));
        output.WriteLine($"prefix vs full prompt, max |diff| = {maxDiff:G3}");
        Assert.True(maxDiff < 1e-5, $"prefix logits differ by {maxDiff}");
    }

    [SkippableFact]
    public void GreedyContinuationIsDeterministicAndAgreesWithBatchLogits()
    {
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 64);
        var a = oracle.GreedyContinuation(HelloWorld, 16);
        var b = oracle.GreedyContinuation(HelloWorld, 16);
        output.WriteLine("greedy: " + string.Join(' ', a));
        Assert.Equal(16, a.Length);
        Assert.Equal(a, b);
        Assert.All(a, t => Assert.InRange(t, 0, 31999));

        // The continuation, re-evaluated as one batch, must pick the same argmax at every step wherever the top two
        // logits are not a near tie (incremental and batched evaluation round differently, by ~1e-6).
        var all = HelloWorld.Concat(a).ToArray();
        var rows = oracle.Logits(all);
        var checkedSteps = 0;
        for (var k = 0; k < a.Length; k++)
        {
            var row = rows[HelloWorld.Length - 1 + k];
            var (top, second) = TopTwo(row);
            if (top - second < 1e-4f) continue;
            checkedSteps++;
            Assert.Equal(LlamaCppOracle.ArgMax(row), a[k]);
        }
        output.WriteLine($"{checkedSteps} of 16 greedy steps checked against batch argmax");
        Assert.True(checkedSteps >= 12, $"only {checkedSteps} of 16 steps were clear enough to check");
    }

    [SkippableFact]
    public void TokenizerReproducesLlamaCppVocabTestVectors()
    {
        var inp = File.ReadAllText(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        var outLines = File.ReadAllLines(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.out"));
        var inputs = inp.Split("\n__ggml_vocab_test__\n");
        Assert.True(inputs.Length >= 10 && outLines.Length >= 10);

        // The tiny model carries the same 32000-entry Llama 2 vocabulary as the tokenizer-only GGUF.
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        for (var i = 0; i < 10; i++)
        {
            var expected = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            Assert.Equal(expected, oracle.Tokenize(inputs[i], addBos: false));
            Assert.Equal([1, .. expected], oracle.Tokenize(inputs[i], addBos: true));
        }
    }

    [SkippableFact]
    public void TokenizerReproducesAllLlamaCppVocabTestVectors()
    {
        // All 46 strings (unicode, whitespace runs, digits, emoji), reported together so one run shows every mismatch.
        var inp = File.ReadAllText(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.inp"), Encoding.UTF8);
        var outLines = File.ReadAllLines(Fixtures.Path("tokenizers/ggml-vocab-llama-spm.gguf.out"));
        var inputs = inp.Split("\n__ggml_vocab_test__\n");
        using var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        var mismatches = new List<string>();
        for (var i = 0; i < outLines.Length; i++)
        {
            var expected = outLines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
            var got = oracle.Tokenize(inputs[i], addBos: false);
            if (!expected.SequenceEqual(got)) mismatches.Add($"#{i}: expected [{string.Join(' ', expected)}] got [{string.Join(' ', got)}]");
        }
        Assert.True(mismatches.Count == 0, string.Join(Environment.NewLine, mismatches));
    }

    [SkippableFact]
    public void RejectsBadInputWithClearErrors()
    {
        var notGguf = Path.Combine(Path.GetTempPath(), $"elongate-oracle-bad-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        File.WriteAllBytes(notGguf, Encoding.ASCII.GetBytes("this is not a GGUF file at all"));
        try
        {
            var e = Assert.Throws<InvalidOperationException>(() => LlamaCppOracle.Open(notGguf, contextSize: 16));
            Assert.Contains(notGguf, e.Message);
            output.WriteLine(e.Message);
        }
        finally
        {
            File.Delete(notGguf);
        }

        var oracle = LlamaCppOracle.Open(Fixtures.Path(TinyModel), contextSize: 16);
        Assert.Throws<ArgumentOutOfRangeException>(() => oracle.Logits([1, 32000]));
        Assert.Throws<ArgumentOutOfRangeException>(() => oracle.Logits([-1]));
        Assert.Throws<ArgumentException>(() => oracle.GreedyContinuation([1], oracle.ContextSize));
        Assert.Throws<ArgumentException>(() => oracle.GreedyContinuation([], 1));
        Assert.Empty(oracle.GreedyContinuation([1], 0));
        oracle.Dispose();
        oracle.Dispose();
        Assert.Throws<ObjectDisposedException>(() => oracle.Logits([1]));
    }

    /// <summary>
    /// The numeric reference for Elongate's forward pass: a float64 Llama 2 forward pass (written from the
    /// architecture, not from llama.cpp) on the F16 file, and on an F32 copy of it, against llama.cpp's logits.
    /// </summary>
    [SkippableFact]
    public void LlamaCppLogitsMatchAFloat64ForwardPass()
    {
        var path = Fixtures.Path(TinyModel);
        var bytes = File.ReadAllBytes(path);
        var gguf = MiniGguf.Parse(bytes);
        int[] prompt = [1, 15043, 3186, 29892, 920, 526, 366, 29973]; // BOS "Hello world, how are you?"
        double[][] reference;
        using (var oracle = LlamaCppOracle.Open(path, contextSize: 64))
        {
            Assert.Equal(prompt, oracle.Tokenize("Hello world, how are you?", addBos: true));
            reference = ReferenceForward(gguf, prompt);
            var (abs, rel) = Compare(oracle.Logits(prompt), reference);
            output.WriteLine($"F16 GGUF: max |diff| = {abs:G3}, max |diff| / max|logit| per row = {rel:G3}");
            // llama.cpp's CPU F16 matmul rounds the activations to F16 (11-bit mantissa, 4.9e-4 relative) before the
            // dot product, in every projection including the 32000-row output head. Measured 2.7e-4 (avx512 build);
            // bound at 2e-3, four F16 ulps, since other builds (avx2, noavx) round and accumulate differently.
            Assert.True(rel < 2e-3, $"F16: relative difference {rel}");

            // The explanation checked: round the activations to F16 before each F16 matmul in the float64 reference,
            // and llama.cpp agrees to float32 precision again.
            var (absE, relE) = Compare(oracle.Logits(prompt), ReferenceForward(gguf, prompt, emulateF16Activations: true));
            output.WriteLine($"F16 GGUF vs reference with F16-rounded matmul inputs: max |diff| = {absE:G3}, relative = {relE:G3}");
            Assert.True(relE < 1e-5, $"F16 emulated: relative difference {relE}");
        }

        using (var stock = LlamaCppOracle.Open(path, contextSize: 64, llamaCppDefaults: true))
        {
            var stockLogits = stock.Logits(prompt);
            var (abs, rel) = Compare(stockLogits, reference);
            output.WriteLine($"F16 GGUF, llama.cpp defaults (F16 KV cache, flash attention auto): max |diff| = {abs:G3}, relative = {rel:G3}");
            using var oracle = LlamaCppOracle.Open(path, contextSize: 64);
            var oracleLogits = oracle.Logits(prompt);
            var (absS, relS) = Compare(stockLogits, oracleLogits.Select(r => r.Select(v => (double)v).ToArray()).ToArray());
            output.WriteLine($"  defaults vs oracle settings: max |diff| = {absS:G3}, relative = {relS:G3}");
            // Adds F16 rounding of the cached K and V (and of Q under flash attention) to the above.
            Assert.True(rel < 4e-3, $"F16 with llama.cpp defaults: relative difference {rel}");
        }

        var f32Path = Path.Combine(Path.GetTempPath(), $"elongate-oracle-{Environment.ProcessId}-{Guid.NewGuid():N}.gguf");
        try
        {
            var f32Bytes = MiniGguf.WithF16AsF32(bytes, gguf);
            var tmp = f32Path + ".tmp";
            File.WriteAllBytes(tmp, f32Bytes);
            File.Move(tmp, f32Path);
            var gguf32 = MiniGguf.Parse(f32Bytes);
            Assert.All(gguf32.Tensors.Values, t => Assert.Equal(MiniGguf.F32, t.Type));
            // Same weights, same reference (F16 → F32 widening is exact).
            Assert.Equal(reference.SelectMany(r => r), ReferenceForward(gguf32, prompt).SelectMany(r => r));

            using var oracle = LlamaCppOracle.Open(f32Path, contextSize: 64);
            var (abs, rel) = Compare(oracle.Logits(prompt), reference);
            output.WriteLine($"F32 GGUF: max |diff| = {abs:G3}, max |diff| / max|logit| per row = {rel:G3}");
            // Pure float32 arithmetic (F32 weights, F32 KV cache): measured ≈2e-7 (a few float32 ulps); bound at 1e-5.
            Assert.True(rel < 1e-5, $"F32: relative difference {rel}");
        }
        finally
        {
            File.Delete(f32Path);
        }
    }

    private static (float Top, float Second) TopTwo(float[] row)
    {
        float top = float.NegativeInfinity, second = float.NegativeInfinity;
        foreach (var v in row)
        {
            if (v > top) { second = top; top = v; }
            else if (v > second) second = v;
        }
        return (top, second);
    }

    private static (double Abs, double Rel) Compare(float[][] actual, double[][] expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double maxAbs = 0, maxRel = 0;
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i].Length, actual[i].Length);
            var scale = expected[i].Max(Math.Abs);
            var rowMax = 0.0;
            for (var v = 0; v < expected[i].Length; v++) rowMax = Math.Max(rowMax, Math.Abs(actual[i][v] - expected[i][v]));
            maxAbs = Math.Max(maxAbs, rowMax);
            maxRel = Math.Max(maxRel, rowMax / scale);
        }
        return (maxAbs, maxRel);
    }

    /// <summary>
    /// Llama 2 in float64: RMSNorm (eps from the file), q/k/v projections, RoPE on adjacent pairs (GGUF/Meta layout)
    /// with base 10000 over the first rope.dimension_count dims of each head, causal softmax attention scaled by
    /// 1/sqrt(head_dim), output projection, SwiGLU FFN, final RMSNorm and the untied output head.
    /// </summary>
    private static double[][] ReferenceForward(MiniGguf g, int[] tokens, bool emulateF16Activations = false)
    {
        var h16 = emulateF16Activations;
        var dim = (int)g.UInt("llama.embedding_length");
        var layers = (int)g.UInt("llama.block_count");
        var ffn = (int)g.UInt("llama.feed_forward_length");
        var heads = (int)g.UInt("llama.attention.head_count");
        var kvHeads = (int)g.UInt("llama.attention.head_count_kv");
        var ropeDims = (int)g.UInt("llama.rope.dimension_count");
        var eps = g.Float("llama.attention.layer_norm_rms_epsilon");
        const double ropeBase = 10000.0; // the file has no llama.rope.freq_base
        var headDim = dim / heads;
        var kvDim = kvHeads * headDim;
        var n = tokens.Length;

        var emb = g.Weights("token_embd.weight");
        var vocab = emb.Length / dim;
        var x = new double[n][];
        for (var t = 0; t < n; t++) x[t] = emb.AsSpan(tokens[t] * dim, dim).ToArray();

        for (var l = 0; l < layers; l++)
        {
            var p = $"blk.{l}.";
            var wq = g.Weights(p + "attn_q.weight"); var wk = g.Weights(p + "attn_k.weight");
            var wv = g.Weights(p + "attn_v.weight"); var wo = g.Weights(p + "attn_output.weight");
            var q = new double[n][]; var k = new double[n][]; var v = new double[n][];
            for (var t = 0; t < n; t++)
            {
                var h = RmsNorm(x[t], g.Weights(p + "attn_norm.weight"), eps);
                q[t] = MatVec(wq, h, dim, h16); k[t] = MatVec(wk, h, kvDim, h16); v[t] = MatVec(wv, h, kvDim, h16);
                Rope(q[t], heads, headDim, ropeDims, t, ropeBase);
                Rope(k[t], kvHeads, headDim, ropeDims, t, ropeBase);
            }
            for (var t = 0; t < n; t++)
            {
                var att = new double[dim];
                for (var hd = 0; hd < heads; hd++)
                {
                    var kvh = hd / (heads / kvHeads);
                    var scores = new double[t + 1];
                    for (var s = 0; s <= t; s++)
                    {
                        double dot = 0;
                        for (var d = 0; d < headDim; d++) dot += q[t][hd * headDim + d] * k[s][kvh * headDim + d];
                        scores[s] = dot / Math.Sqrt(headDim);
                    }
                    var max = scores.Max(); double sum = 0;
                    for (var s = 0; s <= t; s++) { scores[s] = Math.Exp(scores[s] - max); sum += scores[s]; }
                    for (var s = 0; s <= t; s++)
                        for (var d = 0; d < headDim; d++) att[hd * headDim + d] += scores[s] / sum * v[s][kvh * headDim + d];
                }
                var o = MatVec(wo, att, dim, h16);
                for (var d = 0; d < dim; d++) x[t][d] += o[d];

                var h2 = RmsNorm(x[t], g.Weights(p + "ffn_norm.weight"), eps);
                var gate = MatVec(g.Weights(p + "ffn_gate.weight"), h2, ffn, h16);
                var up = MatVec(g.Weights(p + "ffn_up.weight"), h2, ffn, h16);
                for (var j = 0; j < ffn; j++) gate[j] = gate[j] / (1 + Math.Exp(-gate[j])) * up[j];
                var down = MatVec(g.Weights(p + "ffn_down.weight"), gate, dim, h16);
                for (var d = 0; d < dim; d++) x[t][d] += down[d];
            }
        }

        var head = g.Tensors.ContainsKey("output.weight") ? g.Weights("output.weight") : emb;
        var logits = new double[n][];
        for (var t = 0; t < n; t++) logits[t] = MatVec(head, RmsNorm(x[t], g.Weights("output_norm.weight"), eps), vocab, h16);
        return logits;
    }

    private static double[] RmsNorm(double[] x, double[] w, double eps)
    {
        var ss = x.Sum(v => v * v) / x.Length;
        var inv = 1.0 / Math.Sqrt(ss + eps);
        var r = new double[x.Length];
        for (var i = 0; i < x.Length; i++) r[i] = x[i] * inv * w[i];
        return r;
    }

    /// <summary>
    /// W is row-major [rows, x.Length] (GGUF ne0 = x.Length, ne1 = rows). <paramref name="halfInput"/> rounds x to
    /// F16 first, which is what ggml's CPU matmul does to the activations when the weights are F16.
    /// </summary>
    private static double[] MatVec(double[] w, double[] x, int rows, bool halfInput = false)
    {
        Assert.Equal(rows * x.Length, w.Length);
        if (halfInput) x = x.Select(v => (double)(Half)v).ToArray();
        var r = new double[rows];
        for (var o = 0; o < rows; o++)
        {
            double s = 0;
            for (var i = 0; i < x.Length; i++) s += w[o * x.Length + i] * x[i];
            r[o] = s;
        }
        return r;
    }

    private static void Rope(double[] vec, int heads, int headDim, int ropeDims, int pos, double theta)
    {
        for (var h = 0; h < heads; h++)
            for (var i = 0; i < ropeDims; i += 2)
            {
                var angle = pos * Math.Pow(theta, -(double)i / ropeDims);
                var (sin, cos) = Math.SinCos(angle);
                var a = vec[h * headDim + i]; var b = vec[h * headDim + i + 1];
                vec[h * headDim + i] = a * cos - b * sin;
                vec[h * headDim + i + 1] = a * sin + b * cos;
            }
    }

    /// <summary>
    /// Just enough GGUF (v2/v3) to read this test's F16/F32 tensors and scalar metadata, and to rewrite F16 tensors as
    /// F32. Test-only: trusts its input (fixtures), unlike Elongate's real reader.
    /// </summary>
    private sealed class MiniGguf
    {
        public const uint F32 = 0, F16 = 1;

        public sealed record TensorInfo(string Name, long[] Dims, uint Type, ulong Offset, int InfoStart, int InfoEnd)
        {
            public long Elements => Dims.Aggregate(1L, (a, b) => a * b);
        }

        private readonly byte[] _bytes;
        public Dictionary<string, object> Meta { get; } = [];
        public Dictionary<string, TensorInfo> Tensors { get; } = [];
        public List<TensorInfo> Order { get; } = [];
        public int KvEnd { get; private set; }
        public int DataStart { get; private set; }
        public int Alignment { get; private set; } = 32;

        private MiniGguf(byte[] bytes) => _bytes = bytes;

        public static MiniGguf Parse(byte[] bytes)
        {
            var g = new MiniGguf(bytes);
            var pos = 0;
            Assert.Equal("GGUF", Encoding.ASCII.GetString(bytes, 0, 4));
            pos = 4;
            var version = g.U32(ref pos);
            Assert.InRange(version, 2u, 3u);
            var nTensors = (int)g.U64(ref pos);
            var nKv = (int)g.U64(ref pos);
            for (var i = 0; i < nKv; i++)
            {
                var key = g.Str(ref pos);
                g.Meta[key] = g.Value(g.U32(ref pos), ref pos);
            }
            g.KvEnd = pos;
            if (g.Meta.TryGetValue("general.alignment", out var al)) g.Alignment = Convert.ToInt32(al);
            for (var i = 0; i < nTensors; i++)
            {
                var start = pos;
                var name = g.Str(ref pos);
                var nd = (int)g.U32(ref pos);
                var dims = new long[nd];
                for (var d = 0; d < nd; d++) dims[d] = (long)g.U64(ref pos);
                var type = g.U32(ref pos);
                var offset = g.U64(ref pos);
                var info = new TensorInfo(name, dims, type, offset, start, pos);
                g.Tensors[name] = info;
                g.Order.Add(info);
            }
            g.DataStart = (pos + g.Alignment - 1) / g.Alignment * g.Alignment;
            return g;
        }

        public ulong UInt(string key) => Convert.ToUInt64(Meta[key]);
        public double Float(string key) => Convert.ToDouble(Meta[key]);

        public double[] Weights(string name)
        {
            var t = Tensors[name];
            var n = checked((int)t.Elements);
            var at = DataStart + checked((int)t.Offset);
            var r = new double[n];
            for (var i = 0; i < n; i++)
                r[i] = t.Type switch
                {
                    F32 => BinaryPrimitives.ReadSingleLittleEndian(_bytes.AsSpan(at + 4 * i)),
                    F16 => (double)BinaryPrimitives.ReadHalfLittleEndian(_bytes.AsSpan(at + 2 * i)),
                    _ => throw new NotSupportedException($"tensor {name} has GGML type {t.Type}; this test reads F16/F32 only"),
                };
            return r;
        }

        /// <summary>The same file with every F16 tensor widened to F32 (exactly), offsets and padding recomputed.</summary>
        public static byte[] WithF16AsF32(byte[] bytes, MiniGguf g)
        {
            using var ms = new MemoryStream();
            ms.Write(bytes, 0, g.KvEnd); // header and metadata unchanged (general.file_type is informational)
            ulong offset = 0;
            var newOffsets = new List<ulong>();
            foreach (var t in g.Order)
            {
                newOffsets.Add(offset);
                var size = (ulong)t.Elements * 4;
                offset += (size + (ulong)g.Alignment - 1) / (ulong)g.Alignment * (ulong)g.Alignment;
            }
            Span<byte> tail = stackalloc byte[12];
            for (var i = 0; i < g.Order.Count; i++)
            {
                var t = g.Order[i];
                // name, n_dims and dims stay as they were; type and offset are the last 12 bytes of the entry.
                ms.Write(bytes, t.InfoStart, t.InfoEnd - t.InfoStart - 12);
                BinaryPrimitives.WriteUInt32LittleEndian(tail, F32);
                BinaryPrimitives.WriteUInt64LittleEndian(tail[4..], newOffsets[i]);
                ms.Write(tail);
            }
            Pad(ms, g.Alignment);
            Span<byte> f = stackalloc byte[4];
            foreach (var t in g.Order)
            {
                foreach (var w in g.Weights(t.Name))
                {
                    BinaryPrimitives.WriteSingleLittleEndian(f, (float)w);
                    ms.Write(f);
                }
                Pad(ms, g.Alignment);
            }
            return ms.ToArray();
        }

        private static void Pad(Stream s, int alignment)
        {
            while (s.Length % alignment != 0) s.WriteByte(0);
        }

        private uint U32(ref int pos) { var v = BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(pos)); pos += 4; return v; }
        private ulong U64(ref int pos) { var v = BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(pos)); pos += 8; return v; }

        private string Str(ref int pos)
        {
            var len = checked((int)U64(ref pos));
            var s = Encoding.UTF8.GetString(_bytes, pos, len);
            pos += len;
            return s;
        }

        private object Value(uint type, ref int pos)
        {
            object v;
            switch (type)
            {
                case 0: v = _bytes[pos]; pos += 1; break;
                case 1: v = (sbyte)_bytes[pos]; pos += 1; break;
                case 2: v = BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(pos)); pos += 2; break;
                case 3: v = BinaryPrimitives.ReadInt16LittleEndian(_bytes.AsSpan(pos)); pos += 2; break;
                case 4: v = U32(ref pos); break;
                case 5: v = BinaryPrimitives.ReadInt32LittleEndian(_bytes.AsSpan(pos)); pos += 4; break;
                case 6: v = BinaryPrimitives.ReadSingleLittleEndian(_bytes.AsSpan(pos)); pos += 4; break;
                case 7: v = _bytes[pos] != 0; pos += 1; break;
                case 8: v = Str(ref pos); break;
                case 9:
                    var elemType = U32(ref pos);
                    var count = checked((int)U64(ref pos));
                    var items = new object[count];
                    for (var i = 0; i < count; i++) items[i] = Value(elemType, ref pos);
                    v = items;
                    break;
                case 10: v = U64(ref pos); break;
                case 11: v = BinaryPrimitives.ReadInt64LittleEndian(_bytes.AsSpan(pos)); pos += 8; break;
                case 12: v = BinaryPrimitives.ReadDoubleLittleEndian(_bytes.AsSpan(pos)); pos += 8; break;
                default: throw new NotSupportedException($"GGUF value type {type}");
            }
            return v;
        }
    }
}
