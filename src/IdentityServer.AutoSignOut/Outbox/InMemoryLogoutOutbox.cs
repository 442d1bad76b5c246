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
                row.LeaseId = leaseId;
                row.LeaseExpiresAt = leaseExpiresAt;
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
                _rows[notification.Id] = copy;
            }
        }

        return ValueTask.CompletedTask;
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
                copy.LeaseId = null;
                copy.LeaseExpiresAt = null;
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
    };
}
