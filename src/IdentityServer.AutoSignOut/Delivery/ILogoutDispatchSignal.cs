using System.Collections.Concurrent;
using System.Threading.Channels;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Wakes the dispatcher at once to look at the outbox. A binding that writes notifications into its own database
/// transaction calls it after the commit.
/// </summary>
public interface ILogoutDispatchSignal
{
    /// <summary>Tells the dispatcher that the outbox may hold due work; cheap and safe to call often.</summary>
    void Notify();
}

/// <summary>
/// The dispatcher's inbox: wake-ups, "look at the outbox" requests, retry times, and notifications handed over in
/// memory by the engine right after it stored them already leased to this instance.
/// </summary>
internal sealed class LogoutDispatchSignal : ILogoutDispatchSignal
{
    // One pending wake-up is enough: the dispatcher drains everything due when it wakes.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1)
    {
        FullMode = BoundedChannelFullMode.DropWrite,
        SingleReader = true,
    });

    private readonly ConcurrentQueue<LogoutNotification> _handedOver = new();
    private int _reserved;
    private int _outboxRequested = 1;
    private long _earliestRetryTicks = long.MaxValue;

    /// <summary>Whether a dispatcher is running to take hand-overs; without one, rows are stored unleased.</summary>
    public bool DispatcherRunning { get; set; }

    /// <summary>How many notifications may wait in memory for a delivery slot.</summary>
    public int HandOverCapacity { get; set; } = 4096;

    public void Notify()
    {
        Volatile.Write(ref _outboxRequested, 1);
        _wake.Writer.TryWrite(true);
    }

    /// <summary>Wakes the loop without asking it to query the outbox (a delivery slot came free).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    /// <summary>Reserves room for <paramref name="count"/> hand-overs; false when the in-memory queue is full.</summary>
    public bool TryReserve(int count)
    {
        if (!DispatcherRunning)
        {
            return false;
        }

        if (Interlocked.Add(ref _reserved, count) <= HandOverCapacity)
        {
            return true;
        }

        Interlocked.Add(ref _reserved, -count);
        return false;
    }

    public void CancelReservation(int count) => Interlocked.Add(ref _reserved, -count);

    public void HandOver(IReadOnlyList<LogoutNotification> notifications)
    {
        foreach (var notification in notifications)
        {
            _handedOver.Enqueue(notification);
        }

        Wake();
    }

    public bool TryTakeHandedOver(out LogoutNotification notification)
    {
        if (_handedOver.TryDequeue(out notification!))
        {
            Interlocked.Decrement(ref _reserved);
            return true;
        }

        return false;
    }

    /// <summary>Records that a notification went back to the outbox, due at <paramref name="due"/>.</summary>
    public void RetryAt(DateTimeOffset due)
    {
        var ticks = due.UtcTicks;
        var current = Volatile.Read(ref _earliestRetryTicks);
        while (ticks < current)
        {
            var seen = Interlocked.CompareExchange(ref _earliestRetryTicks, ticks, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }

        Wake();
    }

    /// <summary>Takes the "query the outbox" request, if any, and the earliest known retry time.</summary>
    public (bool OutboxRequested, DateTimeOffset? EarliestRetry) TakeOutboxWork()
    {
        var requested = Interlocked.Exchange(ref _outboxRequested, 0) == 1;
        var ticks = Interlocked.Exchange(ref _earliestRetryTicks, long.MaxValue);
        return (requested, ticks == long.MaxValue ? null : new DateTimeOffset(ticks, TimeSpan.Zero));
    }

    public async Task WaitAsync(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (_wake.Reader.TryRead(out _))
        {
            return;
        }

        using var timer = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timer.Token, cancellationToken);
        try
        {
            await _wake.Reader.WaitToReadAsync(linked.Token).ConfigureAwait(false);
            _wake.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The timer fired: time to look for retries that came due.
        }
    }
}
