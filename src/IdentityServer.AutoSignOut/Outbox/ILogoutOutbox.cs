namespace AutoSignOut.IdentityServer;

/// <summary>
/// Durable storage of <see cref="LogoutNotification"/>s waiting for delivery. Implementations must let several engine
/// instances share one store without two of them holding a lease on the same notification at once.
/// </summary>
public interface ILogoutOutbox
{
    /// <summary>Stores new notifications.</summary>
    /// <param name="notifications">The notifications, in state <see cref="LogoutNotificationState.Pending"/>.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken);

    /// <summary>
    /// Leases up to <paramref name="maxCount"/> pending notifications that are due at <paramref name="now"/> and not
    /// leased by anyone (or whose lease ran out), earliest due first, and returns them with their new
    /// <see cref="LogoutNotification.LeaseId"/>.
    /// </summary>
    /// <param name="maxCount">The most notifications to lease.</param>
    /// <param name="now">The current time.</param>
    /// <param name="leaseExpiresAt">When the leases end.</param>
    /// <param name="cancellationToken">Cancels the lease.</param>
    ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Removes delivered notifications, each only if it still holds its lease. The engine passes several at once
    /// when deliveries finish together, so that a store can remove them in one transaction.
    /// </summary>
    /// <param name="notifications">The delivered notifications.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken);

    /// <summary>
    /// Writes back a failed notification (attempts, next attempt time, last error, token) and releases its lease, if
    /// <paramref name="notification"/> still holds it.
    /// </summary>
    /// <param name="notification">The notification with its updated fields.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken);

    /// <summary>Marks a notification dead-lettered and releases its lease, if it still holds it.</summary>
    /// <param name="notification">The notification with its last error.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken);

    /// <summary>Reads the outbox's depth, age and next due time.</summary>
    /// <param name="now">The current time; leases that ended before it count as released.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken);
}

/// <summary>The state of an outbox at one moment.</summary>
/// <param name="PendingCount">Notifications waiting for delivery, leased or not.</param>
/// <param name="OldestPendingCreatedAt">When the oldest pending notification was enqueued, or <see langword="null"/> when none is.</param>
/// <param name="NextDueAt">
/// The earliest <see cref="LogoutNotification.NextAttemptAt"/> of pending notifications that nobody leases, or
/// <see langword="null"/> when there are none.
/// </param>
/// <param name="DeadLetteredCount">Notifications given up.</param>
public readonly record struct LogoutOutboxSnapshot(long PendingCount, DateTimeOffset? OldestPendingCreatedAt, DateTimeOffset? NextDueAt, long DeadLetteredCount);
