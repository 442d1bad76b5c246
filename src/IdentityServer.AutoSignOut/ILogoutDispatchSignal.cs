using System.Threading.Channels;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Wakes the dispatcher at once. The engine calls it after every enqueue; a binding that writes notifications into
/// its own database transaction calls it after the commit.
/// </summary>
public interface ILogoutDispatchSignal
{
    /// <summary>Tells the dispatcher that work may be waiting; cheap and safe to call often.</summary>
    void Notify();
}

internal sealed class LogoutDispatchSignal : ILogoutDispatchSignal
{
    // One pending wake-up is enough: the dispatcher drains everything due when it wakes.
    private readonly Channel<bool> _channel = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    public void Notify() => _channel.Writer.TryWrite(true);

    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (_channel.Reader.TryRead(out _))
        {
            return;
        }

        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        try
        {
            await _channel.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
            _channel.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timer fired: time to look for retries that came due.
        }
    }
}
