using Microsoft.Extensions.AI;

namespace Elongate.Tests.Data;

/// <summary>
/// Answers through <paramref name="inner"/> until call number <paramref name="blockFrom"/>; from then on every call
/// hangs on a gate that ignores the cancellation token (a teacher stuck mid-request), and <see cref="Blocked"/>
/// completes. <see cref="Release"/> lets the hung calls finish (through the inner teacher), for clean-up.
/// </summary>
internal sealed class GatedTeacher(IChatClient inner, int blockFrom) : IChatClient
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _blocked = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _calls;

    public Task Blocked => _blocked.Task;

    public void Release() => _gate.TrySetResult();

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Increment(ref _calls) >= blockFrom)
        {
            _blocked.TrySetResult();
            await _gate.Task; // deliberately deaf to the token
        }
        return await inner.GetResponseAsync(messages, options, CancellationToken.None);
    }

    public IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException();

    public object? GetService(Type serviceType, object? serviceKey = null) => null;

    public void Dispose() { }
}
