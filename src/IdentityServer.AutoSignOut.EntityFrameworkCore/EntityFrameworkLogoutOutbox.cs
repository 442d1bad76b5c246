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
        using (await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false))
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
    {
        var nowMs = now.ToUnixTimeMilliseconds();
        var untilMs = leaseExpiresAt.ToUnixTimeMilliseconds();
        var leaseId = Guid.NewGuid();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = db.Set<LogoutOutboxEntry>();
        int taken;
        if (db.Database.ProviderName == NpgsqlProvider)
        {
            // PostgreSQL: skip rows another instance is leasing right now instead of queueing behind its locks.
            taken = await db.Database.ExecuteSqlRawAsync(PostgresLeaseSql(db), [leaseId, untilMs, Pending, nowMs, maxCount], cancellationToken).ConfigureAwait(false);
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
            using (await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false))
            {
                taken = await rows
                    .Where(e => due.Contains(e.Id) && e.State == Pending && (e.LeaseExpiresAt == null || e.LeaseExpiresAt <= nowMs))
                    .ExecuteUpdateAsync(s => s.SetProperty(e => e.LeaseId, leaseId).SetProperty(e => e.LeaseExpiresAt, untilMs), cancellationToken)
                    .ConfigureAwait(false);
            }
        }

        if (taken == 0)
        {
            return [];
        }

        var leased = await rows.AsNoTracking().Where(e => e.LeaseId == leaseId).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. leased.Select(LogoutOutboxEntryMapper.ToNotification)];
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
        using (await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false))
        {
            await db.Set<LogoutOutboxEntry>()
                .Where(e => ids.Contains(e.Id) && leases.Contains(e.LeaseId))
                .ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        }
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
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        await db.Set<LogoutOutboxEntry>()
            .Where(e => e.Id == notification.Id && e.LeaseId == notification.LeaseId)
            .ExecuteUpdateAsync(
                s => s.SetProperty(e => e.Attempts, notification.Attempts)
                    .SetProperty(e => e.NextAttemptAt, next)
                    .SetProperty(e => e.LastError, error)
                    .SetProperty(e => e.LogoutToken, token)
                    .SetProperty(e => e.LogoutTokenExpiresAt, tokenExpires)
                    .SetProperty(e => e.LeaseId, (Guid?)null)
                    .SetProperty(e => e.LeaseExpiresAt, (long?)null),
                cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notification);
        var error = LogoutOutboxEntryMapper.Truncate(notification.LastError, 1000);
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        await db.Set<LogoutOutboxEntry>()
            .Where(e => e.Id == notification.Id && e.LeaseId == notification.LeaseId)
            .ExecuteUpdateAsync(
                s => s.SetProperty(e => e.State, DeadLettered)
                    .SetProperty(e => e.Attempts, notification.Attempts)
                    .SetProperty(e => e.LastError, error)
                    .SetProperty(e => e.LogoutToken, (string?)null)
                    .SetProperty(e => e.LeaseId, (Guid?)null)
                    .SetProperty(e => e.LeaseExpiresAt, (long?)null),
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
        return $$"""
            UPDATE {{name}} SET {{Column(nameof(LogoutOutboxEntry.LeaseId))}} = {0}, {{leaseExpires}} = {1}
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
