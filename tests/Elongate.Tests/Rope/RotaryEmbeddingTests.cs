using Elongate.Rope;

namespace Elongate.Tests.Rope;

/// <summary>
/// Properties of the applied rotation. Tolerances are float32: tables are rounded once to float and a head is
/// rotated in float, so dot products of 128-dim unit-scale vectors carry ~1e-5 relative error.
/// </summary>
public class RotaryEmbeddingTests
{
    public static TheoryData<string> RelativeTypes => new() { "default", "linear", "ntk", "yarn", "llama3" };

    private static RopeScaling Scaling(string type) => type switch
    {
        "default" => RopeScaling.None,
        "llama3" => new RopeScaling { Type = type, Factor = 8, OriginalContext = 512 },
        _ => new RopeScaling { Type = type, Factor = 4, OriginalContext = 512 },
    };

    private static float[] RandomVector(Random rng, int n) => Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();

    private static double Dot(float[] a, float[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += (double)a[i] * b[i]; return s; }

    [Fact]
    public void AdjacentAndHalvesAgreeUnderPermutation()
    {
        // Adjacent pair (2i, 2i+1) ↔ halves pair (i, i+d/2): permuting a head accordingly must commute with rotation.
        const int head = 72, rot = 64;
        var rope = new RotaryEmbedding(10000, rot, head, new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 256 });
        var rng = new Random(1);
        foreach (int pos in new[] { 0, 1, 7, 300, 1023 })
        {
            var adj = RandomVector(rng, head);
            var halves = new float[head];
            for (int i = 0; i < rot / 2; i++) { halves[i] = adj[2 * i]; halves[i + rot / 2] = adj[2 * i + 1]; }
            for (int i = rot; i < head; i++) halves[i] = adj[i];
            var tail = adj[rot..].ToArray();
            rope.ApplyAdjacent(adj, pos);
            rope.ApplyHalves(halves, pos);
            for (int i = 0; i < rot / 2; i++)
            {
                Assert.Equal(adj[2 * i], halves[i]);
                Assert.Equal(adj[2 * i + 1], halves[i + rot / 2]);
            }
            Assert.Equal(tail, adj[rot..].ToArray()); // dims past the rotary part pass through
            Assert.Equal(tail, halves[rot..].ToArray());
        }
    }

    [Theory, MemberData(nameof(RelativeTypes))]
    public void RotationPreservesNormTimesAttentionFactor(string type)
    {
        var rope = new RotaryEmbedding(10000, 128, 128, Scaling(type));
        double m = rope.FrequenciesFor(1).AttentionFactor;
        var rng = new Random(2);
        foreach (int pos in new[] { 0, 5, 511, 2047 })
        {
            var v = RandomVector(rng, 128);
            double n0 = Math.Sqrt(Dot(v, v));
            rope.ApplyAdjacent(v, pos);
            double n1 = Math.Sqrt(Dot(v, v));
            Assert.True(Math.Abs(n1 - m * n0) < 1e-5 * n0, $"{type} pos {pos}: norm {n0} → {n1}, expected ×{m}");
        }
    }

    [Theory, MemberData(nameof(RelativeTypes))]
    public void ScoreDependsOnlyOnRelativePosition(string type)
    {
        var rope = new RotaryEmbedding(10000, 128, 128, Scaling(type));
        var rng = new Random(3);
        var q0 = RandomVector(rng, 128); var k0 = RandomVector(rng, 128);
        foreach (int delta in new[] { 0, 1, 13, 400 })
        {
            double? first = null;
            foreach (int m in new[] { 0, 9, 1000, 1600 })
            {
                var q = (float[])q0.Clone(); var k = (float[])k0.Clone();
                rope.ApplyHalves(q, m + delta, RopeRole.Query, 2048);
                rope.ApplyHalves(k, m, RopeRole.Key, 2048);
                double s = Dot(q, k);
                first ??= s;
                Assert.True(Math.Abs(s - first.Value) < 2e-4 * (1 + Math.Abs(first.Value)), $"{type} Δ={delta} m={m}: {s} vs {first}");
            }
        }
    }

    [Fact]
    public void TablesFoldAttentionFactorIntoCosSin()
    {
        var rope = new RotaryEmbedding(10000, 64, 64, new RopeScaling { Type = "yarn", Factor = 4, OriginalContext = 256 });
        var f = rope.FrequenciesFor(1);
        var t = rope.GetTable(100);
        for (int i = 0; i < 32; i++)
        {
            Assert.Equal((float)(Math.Cos(77 * f.InverseFrequencies[i]) * f.AttentionFactor), t.Cos(77)[i]);
            Assert.Equal((float)(Math.Sin(77 * f.InverseFrequencies[i]) * f.AttentionFactor), t.Sin(77)[i]);
        }
    }

    /// <summary>Scores of query p against keys 0..p under Elongate's rule: both rotated by GetTable(p + 1).</summary>
    private static double[] RowScores(RotaryEmbedding rope, float[][] qs, float[][] ks, int p)
    {
        var table = rope.GetTable(p + 1);
        var q = (float[])qs[p].Clone();
        table.ApplyAdjacent(q, p, RopeRole.Query);
        var row = new double[p + 1];
        var k = new float[ks[0].Length];
        for (int j = 0; j <= p; j++)
        {
            ks[j].CopyTo(k, 0); // the KV cache holds unrotated keys for length-dependent types
            table.ApplyAdjacent(k, j, RopeRole.Key);
            row[j] = Dot(q, k);
        }
        return row;
    }

    [Theory]
    [InlineData("dynamic")]
    [InlineData("longrope")]
    public void LengthDependentTypes_PromptEqualsTokenByToken(string type)
    {
        const int d = 16, L = 32, n = 80;
        var sc = type == "dynamic"
            ? new RopeScaling { Type = type, Factor = 4, OriginalContext = L }
            : new RopeScaling { Type = type, Factor = 4, OriginalContext = L, ShortFactor = [1, 1, 1.2, 1.5, 2, 2, 3, 4], LongFactor = [1, 2, 3, 4, 5, 6, 7, 8] };
        var rng = new Random(4);
        var qs = Enumerable.Range(0, n).Select(_ => RandomVector(rng, d)).ToArray();
        var ks = Enumerable.Range(0, n).Select(_ => RandomVector(rng, d)).ToArray();

        // "One long prompt": every row computed after all keys exist, rows in reverse order on one embedding.
        var prompt = new RotaryEmbedding(10000, d, d, sc);
        var promptRows = Enumerable.Range(0, n).Reverse().Select(p => (p, RowScores(prompt, qs, ks, p))).OrderBy(x => x.p).Select(x => x.Item2).ToArray();
        // "Token by token": a fresh embedding, rows in order, each seeing only keys 0..p.
        var incremental = new RotaryEmbedding(10000, d, d, sc);
        for (int p = 0; p < n; p++)
            Assert.Equal(promptRows[p], RowScores(incremental, qs, ks, p));

        // Past L the frequencies really change (so the test can fail if the rule were not applied).
        Assert.NotEqual(prompt.FrequenciesFor(L).InverseFrequencies[2], prompt.FrequenciesFor(n).InverseFrequencies[2]);
        // And within one row the score is still relative: shifting both q and k positions changes nothing up to float.
        var t = prompt.GetTable(n);
        var q1 = (float[])qs[0].Clone(); var k1 = (float[])ks[0].Clone(); t.ApplyAdjacent(q1, 50, RopeRole.Query); t.ApplyAdjacent(k1, 40, RopeRole.Key);
        var q2 = (float[])qs[0].Clone(); var k2 = (float[])ks[0].Clone(); t.ApplyAdjacent(q2, 70, RopeRole.Query); t.ApplyAdjacent(k2, 60, RopeRole.Key);
        Assert.True(Math.Abs(Dot(q1, k1) - Dot(q2, k2)) < 1e-4);
    }

    [Fact]
    public void Dynamic_BelowL_TableIsDefault()
    {
        var dyn = new RotaryEmbedding(10000, 64, 64, new RopeScaling { Type = "dynamic", Factor = 4, OriginalContext = 256 });
        var def = new RotaryEmbedding(10000, 64, 64);
        for (int p = 0; p < 256; p += 51)
            Assert.Equal(def.GetTable(256).Cos(p).ToArray(), dyn.GetTable(p + 1).Cos(p).ToArray());
    }

    [Fact]
    public void Xpos_MatchesTorchscaleAndIsRelative()
    {
        // torchscale XPOS over a window of T positions: position t gets exponent (t − ⌈T/2⌉)/512; queries ×ζ^e,
        // keys ×ζ^(−e); rotation uses absolute t. Reference computed here in double from that description.
        const int d = 32, T = 1000; int centre = (T + 1) / 2;
        var rope = new RotaryEmbedding(10000, d, d, new RopeScaling { Type = "xpos" }, xposCentre: centre);
        var zeta = Enumerable.Range(0, d / 2).Select(j => (2.0 * j + 0.4 * d) / (1.4 * d)).ToArray();
        var rng = new Random(5);
        var q0 = RandomVector(rng, d); var k0 = RandomVector(rng, d);
        foreach (var (n, m) in new[] { (999, 0), (600, 500), (10, 3) })
        {
            double expected = 0;
            for (int j = 0; j < d / 2; j++)
            {
                double th = Math.Pow(10000, -2.0 * j / d);
                double sq = Math.Pow(zeta[j], (n - centre) / 512.0), sk = Math.Pow(zeta[j], -(m - centre) / 512.0);
                double qa = sq * (q0[2 * j] * Math.Cos(n * th) - q0[2 * j + 1] * Math.Sin(n * th));
                double qb = sq * (q0[2 * j + 1] * Math.Cos(n * th) + q0[2 * j] * Math.Sin(n * th));
                double ka = sk * (k0[2 * j] * Math.Cos(m * th) - k0[2 * j + 1] * Math.Sin(m * th));
                double kb = sk * (k0[2 * j + 1] * Math.Cos(m * th) + k0[2 * j] * Math.Sin(m * th));
                expected += qa * ka + qb * kb;
            }
            var q = (float[])q0.Clone(); var k = (float[])k0.Clone();
            rope.ApplyAdjacent(q, n, RopeRole.Query, T);
            rope.ApplyAdjacent(k, m, RopeRole.Key, T);
            Assert.True(Math.Abs(Dot(q, k) - expected) < 1e-4 * (1 + Math.Abs(expected)), $"({n},{m}): {Dot(q, k)} vs {expected}");

            // Fixed centre: another centre gives the same product (ζ^((n−m)/512) is relative).
            var other = new RotaryEmbedding(10000, d, d, new RopeScaling { Type = "xpos" }, xposCentre: 0);
            var q2 = (float[])q0.Clone(); var k2 = (float[])k0.Clone();
            other.ApplyAdjacent(q2, n, RopeRole.Query, T);
            other.ApplyAdjacent(k2, m, RopeRole.Key, T);
            Assert.True(Math.Abs(Dot(q2, k2) - expected) < 1e-4 * (1 + Math.Abs(expected)));
        }
        // The decay: identical q and k at growing distance are damped by ζ^(Δ/512) < 1.
        var tq = rope.GetTable(T);
        Assert.True(tq.XposScale(900, RopeRole.Query)[0] * tq.XposScale(0, RopeRole.Key)[0] < tq.XposScale(100, RopeRole.Query)[0] * tq.XposScale(0, RopeRole.Key)[0]);
    }

    [Fact]
    public void StaticTables_DoNotAllocatePerToken()
    {
        var rope = new RotaryEmbedding(10000, 128, 128);
        var head = new float[128];
        rope.GetTable(4096);
        rope.ApplyAdjacent(head, 10); // warm up
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int p = 0; p < 4096; p++) rope.ApplyAdjacent(head, p);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
