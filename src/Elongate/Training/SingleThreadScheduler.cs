namespace Elongate.Training;

/// <summary>
/// A task scheduler that runs every task inline on the calling thread and reports a concurrency level of 1. Work
/// started under it sees it as <see cref="TaskScheduler.Current"/>, and Parallel.For then runs its whole range on
/// one thread: this is how <see cref="TrainerOptions.Deterministic"/> forces the kernels onto one thread without
/// touching them.
/// </summary>
internal sealed class SingleThreadScheduler : TaskScheduler
{
    public static SingleThreadScheduler Instance { get; } = new();

    public override int MaximumConcurrencyLevel => 1;

    protected override void QueueTask(Task task) => TryExecuteTask(task);

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => [];

    /// <summary>Runs <paramref name="body"/> with this scheduler current; exceptions come back unwrapped.</summary>
    public static T Run<T>(Func<T> body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.None, Instance).GetAwaiter().GetResult();
}
