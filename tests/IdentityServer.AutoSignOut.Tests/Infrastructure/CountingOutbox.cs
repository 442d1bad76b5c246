namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>An outbox that counts the engine's writes and passes every call on to another.</summary>
internal sealed class CountingOutbox(ILogoutOutbox inner) : ILogoutOutbox
{
    private int _leases;
    private int _leasedRows;
    private int _singleReschedules;
    private int _batchReschedules;
    private int _postponed;

    /// <summary>Lease queries that returned at least one row.</summary>
    public int Leases => Volatile.Read(ref _leases);

    /// <summary>Rows leased from the outbox (not handed over in memory).</summary>
    public int LeasedRows => Volatile.Read(ref _leasedRows);

    /// <summary>Rows written back one at a time.</summary>
    public int SingleReschedules => Volatile.Read(ref _singleReschedules);

    /// <summary>Calls that wrote several rows back at once.</summary>
    public int BatchReschedules => Volatile.Read(ref _batchReschedules);

    /// <summary>How long each single-row write-back is held before it reaches the database (a slow writer).</summary>
    public TimeSpan SingleRescheduleDelay { get; init; }

    /// <summary>Rows postponed as part of their endpoint's backlog.</summary>
    public int Postponed => Volatile.Read(ref _postponed);

    public ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
        => inner.EnqueueAsync(notifications, cancellationToken);

    public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
        => LeaseDueAsync(maxCount, now, leaseExpiresAt, null!, cancellationToken);

    public async ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, string leaseOwner, CancellationToken cancellationToken)
    {
        var leased = await inner.LeaseDueAsync(maxCount, now, leaseExpiresAt, leaseOwner, cancellationToken);
        if (leased.Count > 0)
        {
            Interlocked.Increment(ref _leases);
            Interlocked.Add(ref _leasedRows, leased.Count);
        }

        return leased;
    }

    public ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
        => inner.CompleteAsync(notifications, cancellationToken);

    public async ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _singleReschedules);
        if (SingleRescheduleDelay > TimeSpan.Zero)
        {
            await Task.Delay(SingleRescheduleDelay, cancellationToken);
        }

        await inner.RescheduleAsync(notification, cancellationToken);
    }

    public ValueTask RescheduleAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _batchReschedules);
        return inner.RescheduleAsync(notifications, cancellationToken);
    }

    public async ValueTask<int> PostponeEndpointAsync(Uri endpoint, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var postponed = await inner.PostponeEndpointAsync(endpoint, until, now, cancellationToken);
        Interlocked.Add(ref _postponed, postponed);
        return postponed;
    }

    public ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken)
        => inner.DeadLetterAsync(notification, cancellationToken);

    public ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken)
        => inner.GetSnapshotAsync(now, cancellationToken);

    public ValueTask<int> ReleaseLeasesAsync(string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken)
        => inner.ReleaseLeasesAsync(leaseOwner, now, cancellationToken);

    public ValueTask<DateTimeOffset?> GetNextDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
        => inner.GetNextDueAsync(now, cancellationToken);

    public ValueTask<IReadOnlyList<LogoutNotification>> GetDeadLetteredAsync(int maxCount, CancellationToken cancellationToken)
        => inner.GetDeadLetteredAsync(maxCount, cancellationToken);

    public ValueTask<int> ReplayDeadLetteredAsync(IReadOnlyCollection<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
        => inner.ReplayDeadLetteredAsync(ids, now, cancellationToken);

    public ValueTask<int> RemoveDeadLetteredAsync(DateTimeOffset before, int maxCount, CancellationToken cancellationToken)
        => inner.RemoveDeadLetteredAsync(before, maxCount, cancellationToken);
}
