using Elongate.Training.Distributed;

namespace Elongate.Tests.Training;

/// <summary>The parts of data-parallel training that need no MPI: the partition of a step, the single-process communicator, and the errors when MPI is not usable.</summary>
public sealed class DistributedTests
{
    [Theory]
    [InlineData(8, 2)]
    [InlineData(8, 4)]
    [InlineData(7, 3)]
    [InlineData(3, 4)]
    public void Shares_are_contiguous_cover_every_micro_batch_once_and_differ_by_at_most_one(int microBatches, int ranks)
    {
        var starts = Enumerable.Range(0, ranks + 1).Select(r => DataParallelStep.ShareStart(r, ranks, microBatches)).ToArray();
        Assert.Equal(0, starts[0]);
        Assert.Equal(microBatches, starts[^1]);
        var sizes = starts.Zip(starts.Skip(1), (a, b) => b - a).ToArray();
        Assert.All(sizes, s => Assert.True(s >= 0));
        Assert.True(sizes.Max() - sizes.Min() <= 1);
    }

    [Fact]
    public void One_process_sums_losses_in_order_and_leaves_gradients_as_they_are()
    {
        var step = new DataParallelStep(SingleProcessCommunicator.Instance, orderedGradients: false);
        Assert.Equal((0, 4), step.BeginStep(4));
        double[] losses = [0.1, 0.2, 0.3, 0.4];
        Assert.Equal(((0.0 + 0.1 + 0.2) + 0.3) + 0.4, step.SumLosses(losses));
        float[] g = [1, 2, 3];
        step.SumGradients(g);
        Assert.Equal([1f, 2f, 3f], g);
        Assert.True(step.Agree(5));
        Assert.True(step.Any(true));
        Assert.False(step.Any(false));
    }

    [Fact]
    public void Ordered_mode_in_one_process_is_the_left_fold_of_the_micro_batch_gradients()
    {
        // The backward adds into the buffer; the ordered mode instead takes each micro-batch's gradient out and folds
        // ((g0 + g1) + g2), which is what N ranks reproduce exactly.
        var step = new DataParallelStep(SingleProcessCommunicator.Instance, orderedGradients: true);
        step.BeginStep(3);
        float[][] parts = [[1e8f, 1f], [1f, 1e-8f], [-1e8f, 3f]];
        var grads = new float[2];
        for (int j = 0; j < 3; j++)
        {
            for (int i = 0; i < 2; i++) grads[i] += parts[j][i];
            step.MicroBatchDone(grads, j);
            if (j < 2) Assert.All(grads, x => Assert.Equal(0f, x));
        }
        step.SumGradients(grads);
        Assert.Equal((1e8f + 1f) + -1e8f, grads[0]);
        Assert.Equal((1f + 1e-8f) + 3f, grads[1]);
    }

    [Fact]
    public void The_single_process_communicator_refuses_peers()
    {
        var c = SingleProcessCommunicator.Instance;
        Assert.Equal((0, 1), (c.Rank, c.Size));
        Assert.Throws<InvalidOperationException>(() => c.Send(new float[1], 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.Broadcast(new float[1], 1));
        var all = new double[2];
        c.Allgather([1.5, 2.5], all);
        Assert.Equal([1.5, 2.5], all);
    }

    [Fact]
    public void A_missing_mpi_library_is_a_clear_error()
    {
        var e = Assert.Throws<IOException>(() => MpiCommunicator.Initialize("libmpi-that-does-not-exist.so.40"));
        Assert.Contains("cannot be loaded: install Open MPI", e.Message);
    }

    [Fact]
    public void An_mpich_launcher_is_refused_with_the_reason()
    {
        var (rc, output) = MpiJob.RunSingleWith(new Dictionary<string, string> { ["PMI_RANK"] = "0", ["PMI_SIZE"] = "2" },
            "train", "--data", "nowhere", "--preset", "1m", "--seq-len", "32", "--tokens-per-step", "64", "--steps", "1", "--out", "nowhere-run");
        Assert.Equal(1, rc);
        Assert.Contains("MPICH-style launcher", output);
    }
}
