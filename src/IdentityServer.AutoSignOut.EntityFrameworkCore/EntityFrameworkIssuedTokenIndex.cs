using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>A durable <see cref="IIssuedTokenIndex"/> on EF Core, beside the outbox.</summary>
/// <typeparam name="TContext">A context whose model includes the index (<see cref="LogoutOutboxModel.ApplyAutoSignOutIssuedTokenIndex"/>).</typeparam>
public sealed class EntityFrameworkIssuedTokenIndex<TContext> : IIssuedTokenIndex
    where TContext : DbContext
{
    private readonly IDbContextFactory<TContext> _contexts;

    /// <summary>Creates the index over contexts made by <paramref name="contexts"/>.</summary>
    /// <param name="contexts">Makes a short-lived context per operation.</param>
    public EntityFrameworkIssuedTokenIndex(IDbContextFactory<TContext> contexts) => _contexts = contexts;

    /// <inheritdoc/>
    public async ValueTask RecordAsync(IssuedToken token, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(token);
        var expires = token.ExpiresAt.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        var updated = await db.Set<IssuedTokenEntry>()
            .Where(e => e.TokenId == token.TokenId)
            .ExecuteUpdateAsync(s => s.SetProperty(e => e.ExpiresAt, expires), cancellationToken).ConfigureAwait(false);
        if (updated > 0)
        {
            return;
        }

        db.Add(new IssuedTokenEntry
        {
            TokenId = token.TokenId,
            ClientId = token.ClientId,
            Subject = token.Subject,
            SessionId = token.SessionId,
            ExpiresAt = expires,
        });
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            // Recorded by a concurrent call between our update and insert (the primary key refused the second row):
            // an upsert, so take the later expiry and carry on. Anything else fails the update below too.
            db.ChangeTracker.Clear();
            var again = await db.Set<IssuedTokenEntry>()
                .Where(e => e.TokenId == token.TokenId)
                .ExecuteUpdateAsync(s => s.SetProperty(e => e.ExpiresAt, e => e.ExpiresAt > expires ? e.ExpiresAt : expires), cancellationToken).ConfigureAwait(false);
            if (again == 0)
            {
                throw;
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<IssuedToken>> FindByIdsAsync(IReadOnlyCollection<string> tokenIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tokenIds);
        if (tokenIds.Count == 0)
        {
            return [];
        }

        var ids = tokenIds.ToArray();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var rows = await db.Set<IssuedTokenEntry>().AsNoTracking().Where(e => ids.Contains(e.TokenId)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(e => new IssuedToken(e.TokenId, e.ClientId, e.Subject, e.SessionId, DateTimeOffset.FromUnixTimeMilliseconds(e.ExpiresAt)))];
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<IssuedToken>> FindAsync(string? subject, string? sessionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (subject is null && sessionId is null)
        {
            return [];
        }

        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        var live = db.Set<IssuedTokenEntry>().AsNoTracking().Where(e => e.ExpiresAt > nowMs);
        live = sessionId is not null ? live.Where(e => e.SessionId == sessionId) : live.Where(e => e.Subject == subject);
        var rows = await live.ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(e => new IssuedToken(e.TokenId, e.ClientId, e.Subject, e.SessionId, DateTimeOffset.FromUnixTimeMilliseconds(e.ExpiresAt)))];
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveExpiredAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        // In batches, each its own short statement, so that the purge never holds the database (or, on SQLite, the
        // write lock the outbox needs) for long.
        const int batch = 1000;
        var nowMs = now.ToUnixTimeMilliseconds();
        var removed = 0;
        while (true)
        {
            await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
            var rows = db.Set<IssuedTokenEntry>();
            var expired = rows.Where(e => e.ExpiresAt <= nowMs).OrderBy(e => e.ExpiresAt).Select(e => e.TokenId).Take(batch);
            int n;
            using (await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false))
            {
                n = await rows.Where(e => expired.Contains(e.TokenId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
            }

            removed += n;
            if (n < batch)
            {
                return removed;
            }
        }
    }
}
