using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// A durable <see cref="ILogoutOutbox"/> on EF Core. Leasing is one conditional <c>UPDATE</c> that only takes rows
/// whose lease is absent or over, so instances sharing the database never hold the same row at once, on any
/// provider whose <c>UPDATE</c> re-checks its condition on the row it locks (SQLite, PostgreSQL, SQL Server).
/// </summary>
/// <typeparam name="TContext">A context whose model includes the outbox (<see cref="LogoutOutboxModel.ApplyAutoSignOutOutbox"/>).</typeparam>
public sealed class EntityFrameworkLogoutOutbox<TContext> : ILogoutOutbox
    where TContext : DbContext
{
    private const int Pending = (int)LogoutNotificationState.Pending;
    private const int DeadLettered = (int)LogoutNotificationState.DeadLettered;
    private const string NpgsqlProvider = "Npgsql.EntityFrameworkCore.PostgreSQL";
    private const int PostponeBatch = 1000;

    private string? _postgresLeaseSql;

    private readonly IDbContextFactory<TContext> _contexts;

    /// <summary>Creates the outbox over contexts made by <paramref name="contexts"/>.</summary>
    /// <param name="contexts">Makes a short-lived context per operation.</param>
    public EntityFrameworkLogoutOutbox(IDbContextFactory<TContext> contexts) => _contexts = contexts;

    /// <inheritdoc/>
    public async ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        db.AddLogoutNotifications(notifications);
        await SqliteWriteGate.RunAsync(db, ct => db.SaveChangesAsync(ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
        => LeaseDueAsync(maxCount, now, leaseExpiresAt, null!, cancellationToken);

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, string leaseOwner, CancellationToken cancellationToken)
    {
        var owner = LogoutOutboxEntryMapper.Truncate(leaseOwner, LogoutOutboxEntryMapper.MaxLeaseOwnerLength);
        var nowMs = now.ToUnixTimeMilliseconds();
        var untilMs = leaseExpiresAt.ToUnixTimeMilliseconds();
        var leaseId = Guid.NewGuid();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<LogoutOutboxEntry>();
        int taken;
        if (db.Database.ProviderName == NpgsqlProvider)
        {
            // PostgreSQL: skip rows another instance is leasing right now instead of queueing behind its locks.
            taken = await db.Database.ExecuteSqlRawAsync(
                PostgresLeaseSql(db),
                [leaseId, untilMs, Pending, nowMs, maxCount, owner ?? ""],
                cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var due = rows
                .Where(e => e.State == Pending && e.NextAttemptAt <= nowMs && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
                .OrderBy(e => e.NextAttemptAt)
                .Select(e => e.Id)
                .Take(maxCount);
            // The lease condition is repeated on the updated row itself: a competing instance that locked the row
            // first leaves it leased, the re-check fails, and this instance skips it.
            taken = await SqliteWriteGate.RunAsync(
                db,
                ct => rows
                    .Where(e => due.Contains(e.Id) && e.State == Pending && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
                    .ExecuteUpdateAsync(
                        s => s.SetProperty(e => e.LeaseId, leaseId)
                            .SetProperty(e => e.LeaseExpiresAt, untilMs)
                            .SetProperty(e => e.LeaseOwner, owner)
                            // A row whose earlier lease ran out may have had its token sent: the redelivery mints anew.
                            .SetProperty(e => e.LogoutToken, e => e.LeaseId == null ? e.LogoutToken : null),
                        ct),
                cancellationToken).ConfigureAwait(false);
        }

        if (taken == 0)
        {
            return [];
        }

        var leased = await rows.AsNoTracking().Where(e => e.LeaseId == leaseId).ToListAsync(cancellationToken).ConfigureAwait(false);
        // Row by row: one row that cannot be read is dead-lettered instead of stranding the whole batch every lease.
        var notifications = new List<LogoutNotification>(leased.Count);
        foreach (var entry in leased)
        {
            LogoutNotification notification;
            try
            {
                notification = LogoutOutboxEntryMapper.ToNotification(entry);
            }
            catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or ArgumentException or UriFormatException or InvalidCastException or OverflowException)
            {
                await DeadLetterUnreadableAsync(db, entry.Id, leaseId, nowMs, ex, cancellationToken).ConfigureAwait(false);
                continue;
            }

            notifications.Add(notification);
        }

        return notifications;
    }

    private static async Task DeadLetterUnreadableAsync(DbContext db, Guid id, Guid leaseId, long nowMs, Exception error, CancellationToken cancellationToken)
    {
        var message = LogoutOutboxEntryMapper.Truncate($"unreadable row: {error.GetType().Name}: {error.Message}", 1000);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        await db.Set<LogoutOutboxEntry>()
            .Where(e => e.Id == id && e.LeaseId == leaseId)
            .ExecuteUpdateAsync(
                s => s.SetProperty(e => e.State, DeadLettered)
                    .SetProperty(e => e.LastError, message)
                    .SetProperty(e => e.NextAttemptAt, nowMs)
                    .SetProperty(e => e.LogoutToken, (string?)null)
                    .SetProperty(e => e.LeaseId, (Guid?)null)
                    .SetProperty(e => e.LeaseExpiresAt, (long?)null)
                    .SetProperty(e => e.LeaseOwner, (string?)null),
                cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notifications);
        if (notifications.Count == 0)
        {
            return;
        }

        // Lease ids are fresh per lease and known only to their holder, so "id in ours and lease in ours" removes
        // exactly the rows this instance still holds.
        var ids = notifications.Select(n => n.Id).ToArray();
        var leases = notifications.Where(n => n.LeaseId is not null).Select(n => n.LeaseId).Distinct().ToArray();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await SqliteWriteGate.RunAsync(
            db,
            ct => db.Set<LogoutOutboxEntry>()
                .Where(e => ids.Contains(e.Id) && leases.Contains(e.LeaseId))
                .ExecuteDeleteAsync(ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var next = notification.NextAttemptAt.ToUnixTimeMilliseconds();
        var error = LogoutOutboxEntryMapper.Truncate(notification.LastError, 1000);
        var token = notification.LogoutToken;
        var tokenExpires = notification.LogoutTokenExpiresAt?.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await SqliteWriteGate.RunAsync(
            db,
            ct => db.Set<LogoutOutboxEntry>()
                .Where(e => e.Id == notification.Id && e.LeaseId == notification.LeaseId)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(e => e.Attempts, notification.Attempts)
                        .SetProperty(e => e.FailedDispatches, notification.FailedDispatches)
                        .SetProperty(e => e.TokenRejections, notification.TokenRejections)
                        .SetProperty(e => e.NextAttemptAt, next)
                        .SetProperty(e => e.LastError, error)
                        .SetProperty(e => e.LogoutToken, token)
                        .SetProperty(e => e.LogoutTokenExpiresAt, tokenExpires)
                        .SetProperty(e => e.LeaseId, (Guid?)null)
                        .SetProperty(e => e.LeaseExpiresAt, (long?)null)
                        .SetProperty(e => e.LeaseOwner, (string?)null),
                    ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask RescheduleAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notifications);
        if (notifications.Count == 0)
        {
            return;
        }

        // Rows given back together mostly carry the same values (the engine defers an endpoint's rows to the time its
        // circuit lets a probe through): one UPDATE per set of values, all in one transaction, instead of one per row.
        var groups = notifications.GroupBy(n => (n.Attempts, n.FailedDispatches, n.TokenRejections, n.NextAttemptAt, n.LastError, n.LogoutToken, n.LogoutTokenExpiresAt));
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await SqliteWriteGate.RunAsync(db, ct => WriteGroupsAsync(db, groups, ct), cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteGroupsAsync(DbContext db, IEnumerable<IGrouping<(int, int, int, DateTimeOffset, string?, string?, DateTimeOffset?), LogoutNotification>> groups, CancellationToken cancellationToken)
    {
        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        foreach (var group in groups)
        {
            var (attempts, failed, rejections, nextAt, lastError, token, tokenExpiresAt) = group.Key;
            var next = nextAt.ToUnixTimeMilliseconds();
            var error = LogoutOutboxEntryMapper.Truncate(lastError, 1000);
            var tokenExpires = tokenExpiresAt?.ToUnixTimeMilliseconds();
            foreach (var chunk in group.Chunk(500))
            {
                // Lease ids are fresh per lease and known only to their holder, so "id in ours and lease in ours"
                // updates exactly the rows this instance still holds.
                var ids = chunk.Select(n => n.Id).ToArray();
                var leases = chunk.Select(n => n.LeaseId).Distinct().ToArray();
                await db.Set<LogoutOutboxEntry>()
                    .Where(e => ids.Contains(e.Id) && leases.Contains(e.LeaseId))
                    .ExecuteUpdateAsync(
                        s => s.SetProperty(e => e.Attempts, attempts)
                            .SetProperty(e => e.FailedDispatches, failed)
                            .SetProperty(e => e.TokenRejections, rejections)
                            .SetProperty(e => e.NextAttemptAt, next)
                            .SetProperty(e => e.LastError, error)
                            .SetProperty(e => e.LogoutToken, token)
                            .SetProperty(e => e.LogoutTokenExpiresAt, tokenExpires)
                            .SetProperty(e => e.LeaseId, (Guid?)null)
                            .SetProperty(e => e.LeaseExpiresAt, (long?)null)
                            .SetProperty(e => e.LeaseOwner, (string?)null),
                        cancellationToken).ConfigureAwait(false);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> PostponeEndpointAsync(Uri endpoint, DateTimeOffset until, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var address = endpoint.AbsoluteUri;
        var untilMs = until.ToUnixTimeMilliseconds();
        var nowMs = now.ToUnixTimeMilliseconds();
        var total = 0;
        while (true)
        {
            // In batches through the (State, NextAttemptAt) index, the write lock let go between them, so that a
            // dead client's backlog of thousands does not hold up the healthy clients' writes; a postponed row is due
            // at "until" and drops out of the next batch's range.
            await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var rows = db.Set<LogoutOutboxEntry>();
            var batch = rows
                .Where(e => e.State == Pending && e.NextAttemptAt < untilMs && e.Endpoint == address && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
                .OrderBy(e => e.NextAttemptAt)
                .Select(e => e.Id)
                .Take(PostponeBatch);
            var postponed = await SqliteWriteGate.RunAsync(
                db,
                ct => rows
                    .Where(e => batch.Contains(e.Id) && e.State == Pending && e.NextAttemptAt < untilMs && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
                    .ExecuteUpdateAsync(s => s.SetProperty(e => e.NextAttemptAt, untilMs), ct),
                cancellationToken).ConfigureAwait(false);

            total += postponed;
            if (postponed < PostponeBatch)
            {
                return total;
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var error = LogoutOutboxEntryMapper.Truncate(notification.LastError, 1000);
        var at = notification.NextAttemptAt.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await SqliteWriteGate.RunAsync(
            db,
            ct => db.Set<LogoutOutboxEntry>()
                .Where(e => e.Id == notification.Id && e.LeaseId == notification.LeaseId)
                .ExecuteUpdateAsync(
                    s => s.SetProperty(e => e.State, DeadLettered)
                        .SetProperty(e => e.Attempts, notification.Attempts)
                        .SetProperty(e => e.FailedDispatches, notification.FailedDispatches)
                        .SetProperty(e => e.TokenRejections, notification.TokenRejections)
                        .SetProperty(e => e.NextAttemptAt, at)
                        .SetProperty(e => e.LastError, error)
                        .SetProperty(e => e.LogoutToken, (string?)null)
                        .SetProperty(e => e.LeaseId, (Guid?)null)
                        .SetProperty(e => e.LeaseExpiresAt, (long?)null)
                        .SetProperty(e => e.LeaseOwner, (string?)null),
                    ct),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<LogoutOutboxEntry>().AsNoTracking();
        var stats = await rows
            .GroupBy(e => 1)
            .Select(g => new
            {
                Pending = g.Count(e => e.State == Pending),
                Dead = g.Count(e => e.State == DeadLettered),
                Oldest = g.Where(e => e.State == Pending).Min(e => (long?)e.CreatedAt),
                NextDue = g.Where(e => e.State == Pending && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs)).Min(e => (long?)e.NextAttemptAt),
            })
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (stats is null)
        {
            return new LogoutOutboxSnapshot(0, null, null, 0);
        }

        return new LogoutOutboxSnapshot(
            stats.Pending,
            stats.Oldest is { } oldest ? DateTimeOffset.FromUnixTimeMilliseconds(oldest) : null,
            stats.NextDue is { } due ? DateTimeOffset.FromUnixTimeMilliseconds(due) : null,
            stats.Dead);
    }

    /// <inheritdoc/>
    public async ValueTask<int> ReleaseLeasesAsync(string leaseOwner, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var owner = LogoutOutboxEntryMapper.Truncate(leaseOwner, LogoutOutboxEntryMapper.MaxLeaseOwnerLength);
        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        return await db.Set<LogoutOutboxEntry>()
            .Where(e => e.State == Pending && e.LeaseOwner == owner && e.LeaseId != null)
            .ExecuteUpdateAsync(
                s => s.SetProperty(e => e.LeaseId, (Guid?)null)
                    .SetProperty(e => e.LeaseExpiresAt, (long?)null)
                    .SetProperty(e => e.LeaseOwner, (string?)null)
                    .SetProperty(e => e.LogoutToken, (string?)null)
                    .SetProperty(e => e.NextAttemptAt, nowMs),
                cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<DateTimeOffset?> GetNextDueAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        // Ordered by the (State, NextAttemptAt) index and cut at the first row, rather than aggregated over the table.
        var next = await db.Set<LogoutOutboxEntry>().AsNoTracking()
            .Where(e => e.State == Pending && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
            .OrderBy(e => e.NextAttemptAt)
            .Select(e => (long?)e.NextAttemptAt)
            .FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        return next is { } ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<LogoutNotification>> GetDeadLetteredAsync(int maxCount, CancellationToken cancellationToken)
    {
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<LogoutOutboxEntry>().AsNoTracking()
            .Where(e => e.State == DeadLettered)
            .OrderBy(e => e.NextAttemptAt)
            .Take(maxCount)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        var dead = new List<LogoutNotification>(rows.Count);
        foreach (var row in rows)
        {
            try
            {
                dead.Add(LogoutOutboxEntryMapper.ToNotification(row));
            }
            catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or ArgumentException or UriFormatException)
            {
                // An unreadable row is listed with what can be read, so an operator can see and remove it.
                dead.Add(new LogoutNotification { Id = row.Id, ClientId = row.ClientId, Reason = row.Reason, LastError = row.LastError, State = LogoutNotificationState.DeadLettered, Attempts = row.Attempts });
            }
        }

        return dead;
    }

    /// <inheritdoc/>
    public async ValueTask<int> ReplayDeadLetteredAsync(IReadOnlyCollection<Guid> ids, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var keys = ids.ToArray();
        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        return await db.Set<LogoutOutboxEntry>()
            .Where(e => keys.Contains(e.Id) && e.State == DeadLettered)
            .ExecuteUpdateAsync(
                s => s.SetProperty(e => e.State, Pending)
                    .SetProperty(e => e.CreatedAt, nowMs)
                    .SetProperty(e => e.NextAttemptAt, nowMs)
                    .SetProperty(e => e.Attempts, 0)
                    .SetProperty(e => e.FailedDispatches, 0)
                    .SetProperty(e => e.TokenRejections, 0)
                    .SetProperty(e => e.LogoutToken, (string?)null)
                    .SetProperty(e => e.LogoutTokenExpiresAt, (long?)null),
                cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveDeadLetteredAsync(DateTimeOffset before, int maxCount, CancellationToken cancellationToken)
    {
        var beforeMs = before.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<LogoutOutboxEntry>();
        var old = rows.Where(e => e.State == DeadLettered && e.NextAttemptAt < beforeMs).OrderBy(e => e.NextAttemptAt).Select(e => e.Id).Take(maxCount);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        return await rows.Where(e => old.Contains(e.Id)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    private string PostgresLeaseSql(DbContext db) => _postgresLeaseSql ??= BuildPostgresLeaseSql(db);

    private static string BuildPostgresLeaseSql(DbContext db)
    {
        var entity = db.Model.FindEntityType(typeof(LogoutOutboxEntry))!;
        var table = StoreObjectIdentifier.Table(entity.GetTableName()!, entity.GetSchema());
        var schema = entity.GetSchema();
        var name = (schema is null ? "" : Quote(schema) + ".") + Quote(table.Name);
        string Column(string property) => Quote(entity.FindProperty(property)!.GetColumnName(table)!);
        var id = Column(nameof(LogoutOutboxEntry.Id));
        var leaseExpires = Column(nameof(LogoutOutboxEntry.LeaseExpiresAt));
        var next = Column(nameof(LogoutOutboxEntry.NextAttemptAt));
        var leaseId = Column(nameof(LogoutOutboxEntry.LeaseId));
        var token = Column(nameof(LogoutOutboxEntry.LogoutToken));
        return $$"""
            UPDATE {{name}} SET {{leaseId}} = {0}, {{leaseExpires}} = {1}, {{Column(nameof(LogoutOutboxEntry.LeaseOwner))}} = NULLIF({5}, ''),
                {{token}} = CASE WHEN {{leaseId}} IS NULL THEN {{token}} END
            WHERE {{id}} IN (
                SELECT {{id}} FROM {{name}}
                WHERE {{Column(nameof(LogoutOutboxEntry.State))}} = {2} AND {{next}} <= {3} AND ({{leaseExpires}} IS NULL OR {{leaseExpires}} <= {3})
                ORDER BY {{next}}
                LIMIT {4}
                FOR UPDATE SKIP LOCKED)
            AND ({{leaseExpires}} IS NULL OR {{leaseExpires}} <= {3})
            """;

        static string Quote(string identifier) => "\"" + identifier.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }
}
