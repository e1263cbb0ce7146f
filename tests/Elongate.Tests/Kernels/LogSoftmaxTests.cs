using Elongate.Kernels;

namespace Elongate.Tests.Kernels;

/// <summary>The double-precision log-softmax the scorer and the server's logprobs share.</summary>
public class LogSoftmaxTests
{
    [Fact]
    public void Log_probabilities_are_exact_and_survive_large_logits()
    {
        float[] logits = [1f, 2f, 3f];
        double z = Math.Exp(1) + Math.Exp(2) + Math.Exp(3);
        Assert.Equal(Math.Log(Math.Exp(2) / z), LogSoftmax.LogProb(logits, 1), 14);
        // exp(1000) overflows without the shift; with it the answer is the same as for 1, 2, 3.
        float[] large = [1000f, 1001f, 1002f];
        Assert.Equal(Math.Log(Math.Exp(2) / z), LogSoftmax.LogProb(large, 1), 12);
        Assert.Equal(1, Enumerable.Range(0, 3).Sum(i => Math.Exp(LogSoftmax.LogProb(large, i))), 12);
        Assert.Throws<ArgumentException>(() => LogSoftmax.LogSumExp([]));
    }

    [Fact]
    public void Top_lists_the_largest_first_with_the_lower_id_on_ties()
    {
        float[] logits = [0.5f, 3f, -1f, 3f, 2f, 0.5f];
        var ids = new int[4];
        Assert.Equal(4, LogSoftmax.Top(logits, 4, ids));
        Assert.Equal([1, 3, 4, 0], ids);
        Assert.Equal(1, LogSoftmax.Top(logits, 1, ids));
        Assert.Equal(1, ids[0]);
        Assert.Equal(0, LogSoftmax.Top(logits, 0, ids));
        Assert.Equal(2, LogSoftmax.Top([7f, 9f], 5, ids));
        Assert.Equal([1, 0], ids[..2]);
    }
}
