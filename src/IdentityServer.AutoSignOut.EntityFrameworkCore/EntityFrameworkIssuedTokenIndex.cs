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
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
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
        var nowMs = now.ToUnixTimeMilliseconds();
        await using var db = await _contexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        using var writeLock = await SqliteWriteGate.EnterAsync(db, cancellationToken).ConfigureAwait(false);
        return await db.Set<IssuedTokenEntry>().Where(e => e.ExpiresAt <= nowMs).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }
}
