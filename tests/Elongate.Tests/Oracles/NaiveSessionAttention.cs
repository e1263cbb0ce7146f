using System.Numerics.Tensors;
using Elongate.Kernels;
using Elongate.Model;

namespace Elongate.Tests.Oracles;

/// <summary>The naive attention oracle shaped for <see cref="InferenceSession"/>'s attention hook.</summary>
internal static class NaiveSessionAttention
{
    /// <summary>
    /// The same oracle for <see cref="InferenceSession"/>'s attention hook: per (query, head) a materialized score row
    /// over the session's cache and a two-pass softmax, to compare the tiled kernel against on long prompts.
    /// </summary>
    public static InferenceSession.AttentionRows Rows(LlamaConfig c) => (output, q, keys, values, rows, first) =>
    {
        int nh = c.NumHeads, hd = c.HeadDim, kvDim = c.KvDim, qDim = nh * hd, group = nh / c.NumKvHeads;
        float scale = 1f / MathF.Sqrt(hd);
        var scores = new float[first + rows];
        for (int t = 0; t < rows; t++)
            for (int h = 0; h < nh; h++)
            {
                int pos = first + t, g = h / group;
                var qh = q.Slice(t * qDim + h * hd, hd);
                var s = scores.AsSpan(0, pos + 1);
                for (int j = 0; j <= pos; j++) s[j] = TensorPrimitives.Dot(qh, keys.AsSpan(j * kvDim + g * hd, hd)) * scale;
                Softmax.Forward(s);
                var o = output.Slice(t * qDim + h * hd, hd);
                o.Clear();
                for (int j = 0; j <= pos; j++) TensorPrimitives.MultiplyAdd(values.AsSpan(j * kvDim + g * hd, hd), s[j], o, o);
            }
    };
}
