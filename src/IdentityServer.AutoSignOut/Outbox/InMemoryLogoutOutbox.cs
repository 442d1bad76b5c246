namespace AutoSignOut.IdentityServer;

/// <summary>
/// An outbox kept in process memory: for tests, development and hosts that accept losing pending notifications when
/// the process stops. Production hosts use a durable outbox (the EF Core package).
/// </summary>
public sealed class InMemoryLogoutOutbox : ILogoutOutbox
{
    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, LogoutNotification> _rows = [];

    /// <inheritdoc/>
    public ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var notification in notifications)
            {
                _rows.Add(notification.Id, Copy(notification));
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
        => LeaseDueAsync(maxCount, now, leaseExpiresAt, null!, cancellationToken);

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, string leaseOwner, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var leaseId = Guid.NewGuid();
            var due = _rows.Values
                .Where(r => r.State == LogoutNotificationState.Pending && r.NextAttemptAt <= now && (r.LeaseExpiresAt is null || r.LeaseExpiresAt <= now))
                .OrderBy(r => r.NextAttemptAt)
                .Take(maxCount)
                .ToList();
            var leased = new List<LogoutNotification>(due.Count);
            foreach (var row in due)
            {
                if (row.LeaseId is not null)
                {
                    // Its earlier lease ran out: the token may have reached the client, so the next attempt mints anew.
                    row.LogoutToken = null;
                }

                row.LeaseId = leaseId;
                row.LeaseExpiresAt = leaseExpiresAt;
                row.LeaseOwner = leaseOwner;
                leased.Add(Copy(row));
            }

            return ValueTask.FromResult<IReadOnlyList<LogoutNotification>>(leased);
        }
    }

    /// <inheritdoc/>
    public ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            foreach (var notification in notifications)
            {
                if (_rows.TryGetValue(notification.Id, out var row) && row.LeaseId == notification.LeaseId)
                {
                    _rows.Remove(notification.Id);
                }
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_rows.TryGetValue(notification.Id, out var row) && row.LeaseId == notification.LeaseId)
            {
                var copy = Copy(notification);
                copy.LeaseId = null;
                copy.LeaseExpiresAt = null;
                copy.LeaseOwner = null;
                _rows[notification.Id] = copy;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<int> PostponeEndpointAsync(Uri endpoint, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var postponed = 0;
        lock (_gate)
        {
            foreach (var row in _rows.Values)
            {
                if (row.State == LogoutNotificationState.Pending && row.NextAttemptAt < until && (row.LeaseExpiresAt is null || row.LeaseExpiresAt <= now) && row.Endpoint == endpoint)
                {
                    row.NextAttemptAt = until;
                    postponed++;
                }
            }
        }

        return ValueTask.FromResult(postponed);
    }

    /// <inheritdoc/>
    public ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_rows.TryGetValue(notification.Id, out var row) && row.LeaseId == notification.LeaseId)
            {
                var copy = Copy(notification);
                copy.State = LogoutNotificationState.DeadLettered;
                copy.LogoutToken = null;
                copy.LeaseId = null;
                copy.LeaseExpiresAt = null;
                copy.LeaseOwner = null;
                _rows[notification.Id] = copy;
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            long pending = 0, dead = 0;
            DateTimeOffset? oldest = null, nextDue = null;
            foreach (var row in _rows.Values)
            {
                if (row.State == LogoutNotificationState.DeadLettered)
                {
                    dead++;
                    continue;
                }

                pending++;
                if (oldest is null || row.CreatedAt < oldest)
                {
                    oldest = row.CreatedAt;
                }

                if ((row.LeaseExpiresAt is null || row.LeaseExpiresAt <= now) && (nextDue is null || row.NextAttemptAt < nextDue))
                {
                    nextDue = row.NextAttemptAt;
                }
            }

            return ValueTask.FromResult(new LogoutOutboxSnapshot(pending, oldest, nextDue, dead));
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> ReleaseLeasesAsync(string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var released = 0;
            foreach (var row in _rows.Values.Where(r => r.State == LogoutNotificationState.Pending && r.LeaseId is not null && r.LeaseOwner == leaseOwner))
            {
                row.LeaseId = null;
                row.LeaseExpiresAt = null;
                row.LeaseOwner = null;
                row.LogoutToken = null;
                row.NextAttemptAt = now;
                released++;
            }

            return ValueTask.FromResult(released);
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<LogoutNotification>> GetDeadLetteredAsync(int maxCount, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<LogoutNotification> dead = [.. _rows.Values.Where(r => r.State == LogoutNotificationState.DeadLettered).OrderBy(r => r.NextAttemptAt).Take(maxCount).Select(Copy)];
            return ValueTask.FromResult(dead);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> ReplayDeadLetteredAsync(IReadOnlyCollection<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        lock (_gate)
        {
            var replayed = 0;
            foreach (var id in ids)
            {
                if (_rows.TryGetValue(id, out var row) && row.State == LogoutNotificationState.DeadLettered)
                {
                    Replay(row, now);
                    replayed++;
                }
            }

            return ValueTask.FromResult(replayed);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> RemoveDeadLetteredAsync(DateTimeOffset before, int maxCount, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var old = _rows.Values.Where(r => r.State == LogoutNotificationState.DeadLettered && r.NextAttemptAt < before).Take(maxCount).Select(r => r.Id).ToList();
            foreach (var id in old)
            {
                _rows.Remove(id);
            }

            return ValueTask.FromResult(old.Count);
        }
    }

    /// <summary>Makes a dead letter pending again, as if just enqueued: the retry horizon counts from now.</summary>
    internal static void Replay(LogoutNotification row, DateTimeOffset now)
    {
        row.State = LogoutNotificationState.Pending;
        row.CreatedAt = now;
        row.NextAttemptAt = now;
        row.Attempts = 0;
        row.FailedDispatches = 0;
        row.TokenRejections = 0;
        row.LogoutToken = null;
        row.LogoutTokenExpiresAt = null;
    }

    /// <summary>Returns copies of the dead-lettered notifications, for inspection.</summary>
    public IReadOnlyList<LogoutNotification> GetDeadLettered()
    {
        lock (_gate)
        {
            return [.. _rows.Values.Where(r => r.State == LogoutNotificationState.DeadLettered).Select(Copy)];
        }
    }

    // The dispatcher mutates the notifications it holds; copies keep the store's rows its own.
    private static LogoutNotification Copy(LogoutNotification n) => new()
    {
        Id = n.Id,
        ClientId = n.ClientId,
        Endpoint = n.Endpoint,
        Subject = n.Subject,
        SessionId = n.SessionId,
        Reason = n.Reason,
        RevokedTokenIds = n.RevokedTokenIds,
        LogoutToken = n.LogoutToken,
        LogoutTokenExpiresAt = n.LogoutTokenExpiresAt,
        CreatedAt = n.CreatedAt,
        NextAttemptAt = n.NextAttemptAt,
        Attempts = n.Attempts,
        LastError = n.LastError,
        State = n.State,
        LeaseId = n.LeaseId,
        LeaseExpiresAt = n.LeaseExpiresAt,
        LeaseOwner = n.LeaseOwner,
        FailedDispatches = n.FailedDispatches,
        TokenRejections = n.TokenRejections,
    };
}
