namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// The multi-node <see cref="ISignOutSignalBus"/>: a signal is appended to the stream and applied on this node at the
/// same time; every other node applies it when it reads the entry. When Redis is unavailable the signal still takes
/// effect here, waits in the pending queue, and <see cref="PublishAsync"/> throws <see cref="SignOutSignalNotPublishedException"/>
/// so the back-channel endpoint answers <c>400 temporarily_unavailable</c> and the provider retries.
/// </summary>
internal sealed class RedisSignOutSignalBus(RedisSignalStream stream, SignOutSignalProcessor processor, TimeProvider time) : ISignOutSignalBus
{
    public async ValueTask PublishAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);

        // Every node must compare with the same moment: the one this node would take (now, for a signal without one).
        var now = time.GetUtcNow();
        if (signal.CreatedAt == default || signal.CreatedAt > now)
        {
            signal = signal with { CreatedAt = now };
        }

        var published = stream.PublishAsync(signal);
        try
        {
            await processor.ProcessAsync(signal, cancellationToken);
        }
        finally
        {
            if (!await published)
            {
                throw new SignOutSignalNotPublishedException();
            }
        }
    }
}
