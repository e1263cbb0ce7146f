using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Elongate.Formats;
using Elongate.Model;
using Elongate.Rope;
using Elongate.Tokenization;

namespace Elongate.Cli.Commands;

/// <summary>`elongate info MODEL`: architecture, effective RoPE with the source of each value, vocabulary, metadata, tensors.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "Model file (GGUF, llama2.c .bin, or a Hugging Face folder / config.json)" };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text" };
        var rope = new RopeOverrides();
        var cmd = new Command("info", "Print a model's architecture, RoPE settings (and where each came from), vocabulary, metadata and tensors") { model, json };
        rope.AddTo(cmd);
        cmd.SetAction(parse => CliErrors.Run(parse, "info", (stdout, _) =>
        {
            var d = ModelDescription.Describe(parse.GetValue(model)!);
            if (d.Config is null)
            {
                // Another architecture: metadata and vocabulary only (RoPE options do not apply).
                if (parse.GetValue(json)) stdout.WriteLine(ToJson(d, null, new Dictionary<string, string>()).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                else WriteText(stdout, d, null, new Dictionary<string, string>());
                return 0;
            }
            var (config, overridden) = rope.Apply(d.Config, parse, d.Source);
            var sources = new Dictionary<string, string>();
            foreach (var (k, v) in d.RopeSources) sources[k] = v.ToString().ToLowerInvariant();
            if (overridden.Contains("base")) sources["base"] = "command line";
            if (overridden.Count > (overridden.Contains("base") ? 1 : 0)) sources["scaling"] = "command line";
            if (parse.GetValue(json)) stdout.WriteLine(ToJson(d, config, sources).ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
            else WriteText(stdout, d, config, sources);
            return 0;
        }));
        return cmd;
    }

    private static string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);

    /// <summary>The effective RoPE, one line per parameter the type uses.</summary>
    internal static IEnumerable<(string Name, string Value)> RopeLines(LlamaConfig c)
    {
        var s = c.RopeScaling ?? RopeScaling.None;
        yield return ("type", s.Type == RopeTypes.Default ? (c.RopeTheta == 10000f ? "default" : "default (ABF: raised base)") : s.Type);
        yield return ("base", F(c.RopeTheta));
        yield return ("rotary dim", $"{c.RotaryDim} of head {c.HeadDim}");
        if (s.Type != RopeTypes.Default && s.Type != RopeTypes.Xpos) yield return ("factor", F(s.Factor));
        if (s.OriginalContext is { } l) yield return ("original context", l.ToString(CultureInfo.InvariantCulture));
        if (s.Type == RopeTypes.Yarn) { yield return ("beta fast", F(s.BetaFast)); yield return ("beta slow", F(s.BetaSlow)); }
        if (s.Type == RopeTypes.Llama3) { yield return ("low freq factor", F(s.LowFreqFactor)); yield return ("high freq factor", F(s.HighFreqFactor)); }
        if (s.Type == RopeTypes.Xpos) yield return ("xpos scale base", F(s.XposScaleBase));
        var freqs = RopeTypes.Compute(c.RopeTheta, c.RotaryDim, s, c.MaxPositionEmbeddings);
        yield return ("attention factor", F(freqs.AttentionFactor));
    }

    private static void WriteText(TextWriter o, ModelDescription d, LlamaConfig? c, IReadOnlyDictionary<string, string> sources)
    {
        o.WriteLine($"model:        {d.Source}");
        o.WriteLine($"format:       {d.Format}");
        if (c is not null)
        {
            o.WriteLine($"architecture: llama, {c.NumLayers} layers, dim {c.HiddenSize}, ffn {c.IntermediateSize}, {c.NumHeads} heads ({c.NumKvHeads} kv, head dim {c.HeadDim}), vocab {c.VocabSize}");
            o.WriteLine($"context:      {c.MaxPositionEmbeddings} positions (trained), rms eps {F(c.RmsNormEps)}, output head {(c.TieWordEmbeddings ? "tied to embeddings" : "separate")}");
            long parameters = (long)c.VocabSize * c.HiddenSize * (c.TieWordEmbeddings ? 1 : 2) + c.HiddenSize
                + (long)c.NumLayers * (2L * c.HiddenSize + 2L * c.HiddenSize * c.NumHeads * c.HeadDim + 2L * c.HiddenSize * c.KvDim + 3L * c.HiddenSize * c.IntermediateSize);
            o.WriteLine($"parameters:   {parameters:N0}{(d.Tensors.Count == 0 ? " (by the hyper-parameters; the file holds no tensors)" : "")}");
            o.WriteLine("rope:");
            foreach (var (name, value) in RopeLines(c))
            {
                string key = name switch { "base" => "base", "rotary dim" => "rotary_dim", _ => "scaling" };
                o.WriteLine($"  {name,-17} {value,-28} ({sources.GetValueOrDefault(key, "default")})");
            }
        }
        else o.WriteLine($"architecture: {d.Architecture}");
        o.WriteLine($"can run:      {(d.CannotRun is null ? "yes" : "no: " + d.CannotRun)}");
        foreach (var line in VocabularyLines(d)) o.WriteLine(line);
        if (d.Metadata.Count > 0)
        {
            o.WriteLine($"metadata ({d.Metadata.Count}):");
            int w = d.Metadata.Max(m => m.Key.Length);
            foreach (var (k, val) in d.Metadata) o.WriteLine($"  {k.PadRight(w)}  {val}");
        }
        o.WriteLine($"tensors ({d.Tensors.Count}):");
        int nw = d.Tensors.Count == 0 ? 0 : d.Tensors.Max(t => t.Name.Length), sw = d.Tensors.Count == 0 ? 0 : d.Tensors.Max(t => t.Shape.Length);
        foreach (var t in d.Tensors) o.WriteLine($"  {t.Name.PadRight(nw)}  {t.Shape.PadRight(sw)}  {t.Type}");
    }

    /// <summary>The vocabulary summary: kind, size, special ids, end-of-generation ids and chat template.</summary>
    internal static IEnumerable<string> VocabularyLines(ModelDescription d)
    {
        if (d.Vocabulary is not { } v)
        {
            yield return d.VocabularyError is { } err ? $"vocabulary:   unusable: {err}" : "vocabulary:   none in this file (give --tokenizer to commands that need one)";
            yield break;
        }
        var counts = v.Types.GroupBy(t => t).OrderBy(g => g.Key).Select(g => $"{g.Count()} {g.Key.ToString().ToLowerInvariant()}");
        string kind = v.Kind == VocabularyKind.BytePairEncoding
            ? $"byte-level BPE, pre-tokenizer '{v.PreTokenizer}', {v.Merges?.Length ?? 0} merges"
            : "SentencePiece";
        yield return $"vocabulary:   {v.Count} pieces, {kind} ({string.Join(", ", counts)})";
        string Id(int id) => id < 0 ? "none" : $"{id} '{v.Pieces[id]}'";
        yield return $"special:      bos {Id(v.BosId)}, eos {Id(v.EosId)}, unk {Id(v.UnkId)}, eot {Id(v.EotId)}, pad {Id(v.PadId)}; add bos {v.AddBos}, add eos {v.AddEos}";
        yield return $"stops at:     {string.Join(", ", v.EndOfGenerationIds().Select(Id))}";
        if (v.ChatTemplate is { } t)
        {
            string name;
            try
            {
                name = $"'{ChatTemplate.Detect(t, d.Source).Name}'";
            }
            catch (Elongate.Common.ModelFormatException)
            {
                name = "not recognised (give --chat-template NAME)";
            }
            yield return $"chat:         template {name} ({t.Length} characters)";
        }
    }

    private static JsonObject ToJson(ModelDescription d, LlamaConfig? c, IReadOnlyDictionary<string, string> sources)
    {
        JsonObject? rope = null;
        if (c is not null)
        {
            rope = new JsonObject();
            foreach (var (name, value) in RopeLines(c)) rope[name.Replace(' ', '_')] = value;
            rope["sources"] = new JsonObject(sources.Select(kv => new KeyValuePair<string, JsonNode?>(kv.Key, kv.Value)));
        }
        return new JsonObject
        {
            ["model"] = d.Source,
            ["format"] = d.Format.ToString(),
            ["architecture"] = d.Architecture,
            ["can_run"] = d.CannotRun is null,
            ["cannot_run_reason"] = d.CannotRun,
            ["hidden_size"] = c?.HiddenSize, ["intermediate_size"] = c?.IntermediateSize, ["num_hidden_layers"] = c?.NumLayers,
            ["num_attention_heads"] = c?.NumHeads, ["num_key_value_heads"] = c?.NumKvHeads, ["vocab_size"] = c?.VocabSize ?? d.Vocabulary?.Count,
            ["max_position_embeddings"] = c?.MaxPositionEmbeddings, ["rms_norm_eps"] = c?.RmsNormEps, ["tie_word_embeddings"] = c?.TieWordEmbeddings,
            ["rope"] = rope,
            ["vocabulary"] = d.Vocabulary is { } v ? new JsonObject
            {
                ["pieces"] = v.Count, ["kind"] = v.Kind == VocabularyKind.BytePairEncoding ? "bpe" : "spm", ["pre_tokenizer"] = v.PreTokenizer,
                ["merges"] = v.Merges?.Length, ["bos"] = v.BosId, ["eos"] = v.EosId, ["unk"] = v.UnkId, ["eot"] = v.EotId, ["pad"] = v.PadId,
                ["add_bos"] = v.AddBos, ["add_eos"] = v.AddEos,
                ["end_of_generation"] = new JsonArray(v.EndOfGenerationIds().Select(i => (JsonNode?)i).ToArray()),
            } : null,
            ["vocabulary_error"] = d.VocabularyError,
            ["metadata"] = new JsonObject(d.Metadata.Select(m => new KeyValuePair<string, JsonNode?>(m.Key, m.Value))),
            ["tensors"] = new JsonArray(d.Tensors.Select(t => (JsonNode?)new JsonObject { ["name"] = t.Name, ["shape"] = t.Shape, ["type"] = t.Type }).ToArray()),
        };
    }
}
