using System.Numerics;

namespace Elongate.Tests.Training;

/// <summary>Reference RoPE tables for the training-layer tests.</summary>
internal static class RopeTables
{
    /// <summary>
    /// The standard Llama table: angle(pos, i) = pos·θ^(−2i/d_rot), computed in double and rounded once, the same
    /// way <see cref="Elongate.Model.InferenceSession"/> does, so both paths rotate by identical values.
    /// </summary>
    public static (T[] Cos, T[] Sin) StandardTable<T>(int seqLen, int rotaryDim, double theta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int pairs = rotaryDim / 2;
        var cos = new T[seqLen * pairs];
        var sin = new T[seqLen * pairs];
        for (int i = 0; i < pairs; i++)
        {
            double invFreq = Math.Pow(theta, -2.0 * i / rotaryDim);
            for (int p = 0; p < seqLen; p++)
            {
                double angle = p * invFreq;
                cos[p * pairs + i] = T.CreateChecked((float)Math.Cos(angle));
                sin[p * pairs + i] = T.CreateChecked((float)Math.Sin(angle));
            }
        }
        return (cos, sin);
    }
}
