using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// Whether this node's revoked set is current with the stream, and what an authentication answers when it is not:
/// <list type="bullet">
/// <item>current (every entry applied, link up): answer from memory at once, no Redis call;</item>
/// <item>catching up (starting, or reconnected and reading what it missed; link up): wait until current, at most
/// <see cref="AutoSignOutRedisOptions.CatchUpTimeout"/>, then refuse for this request without ending the credentials;</item>
/// <item>link down after the node was current once: answer from memory at once (a dead Redis must not take the app
/// down; what this node missed is applied on reconnect, and the health check says Degraded meanwhile);</item>
/// <item>link down before the node ever loaded the revoked set: refuse at once (fail closed, no wait on a dead Redis;
/// the health check says Unhealthy).</item>
/// </list>
/// </summary>
internal sealed class RedisLinkState
{
    private readonly TimeProvider _time;
    private readonly TimeSpan _catchUpTimeout;
    private readonly object _gate = new();
    private TaskCompletionSource _current = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _isCurrent;
    private volatile bool _linkDown;
    private volatile bool _loaded;
    private volatile bool _everUp;
    private long _generation;
    private long _behindSinceTicks;

    public RedisLinkState(IOptions<AutoSignOutRedisOptions> options, TimeProvider time)
    {
        _time = time;
        _catchUpTimeout = options.Value.CatchUpTimeout;
        _behindSinceTicks = time.GetUtcNow().UtcTicks;
    }

    public bool IsCurrent => _isCurrent;

    public bool IsConnected => _everUp && !_linkDown;

    public bool IsLinkDown => _linkDown;

    /// <summary>Signals applied here and waiting for Redis.</summary>
    public int PendingCount { get; set; }

    public bool IsLoaded => _loaded;

    /// <summary>Incremented on every failure: a catch-up that started before one does not make the node current.</summary>
    public long Generation => Volatile.Read(ref _generation);

    public TimeSpan BehindFor => _isCurrent ? TimeSpan.Zero : TimeSpan.FromTicks(Math.Max(0, _time.GetUtcNow().UtcTicks - Volatile.Read(ref _behindSinceTicks)));

    public ValueTask<bool> WaitUntilCurrentAsync(CancellationToken cancellationToken)
    {
        if (_isCurrent)
        {
            return new(true);
        }

        if (_linkDown)
        {
            return new(_loaded);
        }

        return WaitAsync(cancellationToken);
    }

    private async ValueTask<bool> WaitAsync(CancellationToken cancellationToken)
    {
        Task current;
        lock (_gate)
        {
            current = _current.Task;
        }

        try
        {
            await current.WaitAsync(_catchUpTimeout, _time, cancellationToken);
            return true;
        }
        catch (TimeoutException)
        {
            return _isCurrent || (_linkDown && _loaded);
        }
    }

    /// <summary>The link failed: the node is behind until a catch-up that starts after this completes.</summary>
    public void MarkLinkDown()
    {
        lock (_gate)
        {
            Interlocked.Increment(ref _generation);
            _linkDown = true;
            BecomeBehind();
        }
    }

    /// <summary>The link is back (or a read succeeded): requests wait for the catch-up instead of answering from memory.</summary>
    public void MarkLinkUp()
    {
        lock (_gate)
        {
            _everUp = true;
            _linkDown = false;
        }
    }

    /// <summary>A catch-up that started at <paramref name="generation"/> read to the end of the stream.</summary>
    public bool TryMarkCurrent(long generation)
    {
        lock (_gate)
        {
            _loaded = true;
            if (generation != Volatile.Read(ref _generation) || _linkDown)
            {
                return false;
            }

            _isCurrent = true;
            _current.TrySetResult();
            return true;
        }
    }

    private void BecomeBehind()
    {
        if (_isCurrent || _current.Task.IsCompleted)
        {
            _isCurrent = false;
            _current = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _behindSinceTicks, _time.GetUtcNow().UtcTicks);
        }
    }
}
