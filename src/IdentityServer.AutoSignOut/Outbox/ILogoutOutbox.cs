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
    /// <remarks>
    /// A notification whose earlier lease ran out (its holder may have sent its token before it died) must come back
    /// without its stored <see cref="LogoutNotification.LogoutToken"/>, so that the redelivery carries a fresh
    /// <c>jti</c> instead of one the client may already have seen.
    /// </remarks>
    /// <param name="maxCount">The most notifications to lease.</param>
    /// <param name="now">The current time.</param>
    /// <param name="leaseExpiresAt">When the leases end.</param>
    /// <param name="cancellationToken">Cancels the lease.</param>
    ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken);

    /// <summary>
    /// Like <see cref="LeaseDueAsync(int, DateTimeOffset, DateTimeOffset, CancellationToken)"/>, and records
    /// <paramref name="leaseOwner"/> as <see cref="LogoutNotification.LeaseOwner"/>, so that
    /// <see cref="ReleaseLeasesAsync"/> can give the rows back after a crash. The default ignores the owner.
    /// </summary>
    /// <param name="maxCount">The most notifications to lease.</param>
    /// <param name="now">The current time.</param>
    /// <param name="leaseExpiresAt">When the leases end.</param>
    /// <param name="leaseOwner">The leasing instance's name.</param>
    /// <param name="cancellationToken">Cancels the lease.</param>
    ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, string leaseOwner, CancellationToken cancellationToken)
        => LeaseDueAsync(maxCount, now, leaseExpiresAt, cancellationToken);

    /// <summary>
    /// Releases every lease held under <paramref name="leaseOwner"/>: called once when an instance starts, before it
    /// delivers anything, so that the rows an earlier run of the same instance held when it died are due at once
    /// instead of after their lease. Their stored tokens are dropped (they may have been sent). The default does
    /// nothing (the rows wait out their leases).
    /// </summary>
    /// <param name="leaseOwner">The starting instance's name.</param>
    /// <param name="now">The current time; the released rows become due at it.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many rows were released.</returns>
    ValueTask<int> ReleaseLeasesAsync(string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken) => ValueTask.FromResult(0);

    /// <summary>
    /// Returns the earliest <see cref="LogoutNotification.NextAttemptAt"/> of pending notifications nobody leases,
    /// through an index rather than an aggregate over the table. The default reads the snapshot.
    /// </summary>
    /// <param name="now">The current time; leases that ended before it count as released.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The next due time, or <see langword="null"/> when nothing is pending.</returns>
    async ValueTask<DateTimeOffset?> GetNextDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
        => (await GetSnapshotAsync(now, cancellationToken).ConfigureAwait(false)).NextDueAt;

    /// <summary>Lists dead-lettered notifications, oldest first, for an operator. The default is not supported.</summary>
    /// <param name="maxCount">The most notifications to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>Copies of the dead-lettered notifications.</returns>
    ValueTask<IReadOnlyList<LogoutNotification>> GetDeadLetteredAsync(int maxCount, CancellationToken cancellationToken)
        => throw new NotSupportedException($"{GetType().Name} does not list dead letters.");

    /// <summary>
    /// Puts dead-lettered notifications back to pending, due at <paramref name="now"/>, with their attempt counters
    /// and retry horizon reset; an operator calls it once the client is fixed. The default is not supported.
    /// </summary>
    /// <param name="ids">The notifications to replay; ids that are not dead-lettered are ignored.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many notifications were put back.</returns>
    ValueTask<int> ReplayDeadLetteredAsync(IReadOnlyCollection<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
        => throw new NotSupportedException($"{GetType().Name} does not replay dead letters.");

    /// <summary>
    /// Removes up to <paramref name="maxCount"/> notifications dead-lettered before <paramref name="before"/> (their
    /// <see cref="LogoutNotification.NextAttemptAt"/> holds when they were given up). The default removes nothing.
    /// </summary>
    /// <param name="before">Dead letters older than this go.</param>
    /// <param name="maxCount">The most rows to remove in one call.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many were removed.</returns>
    ValueTask<int> RemoveDeadLetteredAsync(DateTimeOffset before, int maxCount, CancellationToken cancellationToken) => ValueTask.FromResult(0);

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

    /// <summary>
    /// Writes back several notifications, each as <see cref="RescheduleAsync(LogoutNotification, CancellationToken)"/>
    /// would, in as few statements as the store can (the engine gives back, together, the rows it holds for an
    /// endpoint whose circuit opened). The default writes them one by one.
    /// </summary>
    /// <param name="notifications">The notifications with their updated fields.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    async ValueTask RescheduleAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notifications);
        foreach (var notification in notifications)
        {
            await RescheduleAsync(notification, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Postpones to <paramref name="until"/> the pending notifications to <paramref name="endpoint"/> that nobody
    /// leases (or whose lease ended before <paramref name="now"/>) and that are due before it, leaving their counters
    /// as they are. The engine calls it once when an endpoint's circuit opens, so that its backlog is not leased only
    /// to be refused by the circuit row by row. The default does nothing (the rows are leased and put back one by
    /// one).
    /// </summary>
    /// <param name="endpoint">The endpoint whose rows wait.</param>
    /// <param name="until">When the circuit lets a probe through.</param>
    /// <param name="now">The current time.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>How many rows were postponed.</returns>
    ValueTask<int> PostponeEndpointAsync(Uri endpoint, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken) => ValueTask.FromResult(0);

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
