using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.OpenIddict.EntityFrameworkCore;

/// <summary>
/// Keeps IdP sessions in the IdP's own context (the request's scoped instance, shared with OpenIddict's EF stores), so
/// that a session ends in the same transaction as the revocation it causes. Ending and touching are single conditional
/// <c>UPDATE</c>s: of several paths racing to end a session, exactly one wins.
/// </summary>
/// <typeparam name="TContext">The IdP's context, whose model includes <see cref="AutoSignOutOpenIddictModel.UseAutoSignOut"/>.</typeparam>
public sealed class EntityFrameworkSessionStore<TContext> : IAutoSignOutSessionStore
    where TContext : DbContext
{
    private readonly TContext _db;

    /// <summary>Creates the store over the request's context.</summary>
    /// <param name="db">The IdP's context.</param>
    public EntityFrameworkSessionStore(TContext db) => _db = db;

    private DbSet<AutoSignOutSessionEntry> Sessions => _db.Set<AutoSignOutSessionEntry>();

    private DbSet<AutoSignOutSessionClientEntry> Clients => _db.Set<AutoSignOutSessionClientEntry>();

    /// <inheritdoc/>
    public async ValueTask CreateAsync(IdentitySession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        var entry = Sessions.Add(new AutoSignOutSessionEntry
        {
            SessionId = session.SessionId,
            Subject = session.Subject,
            CreatedAt = session.CreatedAt.ToUnixTimeMilliseconds(),
            LastActivityAt = session.LastActivityAt.ToUnixTimeMilliseconds(),
            EndedAt = session.EndedAt?.ToUnixTimeMilliseconds(),
        });
        var clients = session.Clients.Select(c => Clients.Add(ToEntry(session.SessionId, c))).ToList();
        try
        {
            using var writeLock = await WriteGateAsync(cancellationToken).ConfigureAwait(false);
            await _db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Rows are written with statements of their own; nothing of the store stays tracked in the shared context.
            entry.State = EntityState.Detached;
            clients.ForEach(static c => c.State = EntityState.Detached);
        }
    }

    /// <inheritdoc/>
    public async ValueTask<IdentitySession?> FindAsync(string sessionId, CancellationToken cancellationToken)
    {
        var session = await Sessions.AsNoTracking().FirstOrDefaultAsync(s => s.SessionId == sessionId, cancellationToken).ConfigureAwait(false);
        if (session is null)
        {
            return null;
        }

        var clients = await Clients.AsNoTracking().Where(c => c.SessionId == sessionId).ToListAsync(cancellationToken).ConfigureAwait(false);
        return ToSession(session, clients);
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<IdentitySession>> FindActiveBySubjectAsync(string subject, CancellationToken cancellationToken)
    {
        var sessions = await Sessions.AsNoTracking().Where(s => s.Subject == subject && s.EndedAt == null).ToListAsync(cancellationToken).ConfigureAwait(false);
        if (sessions.Count == 0)
        {
            return [];
        }

        var ids = sessions.Select(s => s.SessionId).ToList();
        var clients = await Clients.AsNoTracking().Where(c => ids.Contains(c.SessionId)).ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. sessions.Select(s => ToSession(s, clients.Where(c => c.SessionId == s.SessionId)))];
    }

    /// <inheritdoc/>
    public async ValueTask<string?> FindSessionIdByAuthorizationAsync(string authorizationId, CancellationToken cancellationToken) =>
        await Clients.AsNoTracking().Where(c => c.AuthorizationId == authorizationId).Select(c => c.SessionId).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);

    /// <inheritdoc/>
    public async ValueTask AddClientAsync(string sessionId, SessionClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        var row = ToEntry(sessionId, client);
        if (await Clients.AnyAsync(c => c.SessionId == row.SessionId && c.ClientId == row.ClientId && c.AuthorizationId == row.AuthorizationId, cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var entry = Clients.Add(row);
        try
        {
            using var writeLock = await WriteGateAsync(cancellationToken).ConfigureAwait(false);
            await _db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            // A concurrent request may have recorded the same participation first; anything else is a real failure.
            entry.State = EntityState.Detached;
            if (!await Clients.AnyAsync(c => c.SessionId == row.SessionId && c.ClientId == row.ClientId && c.AuthorizationId == row.AuthorizationId, cancellationToken).ConfigureAwait(false))
            {
                throw;
            }
        }
        finally
        {
            entry.State = EntityState.Detached;
        }
    }

    /// <inheritdoc/>
    public async ValueTask TouchAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var ms = at.ToUnixTimeMilliseconds();
        using var writeLock = await WriteGateAsync(cancellationToken).ConfigureAwait(false);
        await Sessions.Where(s => s.SessionId == sessionId && s.EndedAt == null && s.LastActivityAt < ms)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.LastActivityAt, ms), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> TryEndAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        var ms = at.ToUnixTimeMilliseconds();
        using var writeLock = await WriteGateAsync(cancellationToken).ConfigureAwait(false);
        return await Sessions.Where(s => s.SessionId == sessionId && s.EndedAt == null)
            .ExecuteUpdateAsync(u => u.SetProperty(s => s.EndedAt, ms), cancellationToken).ConfigureAwait(false) == 1;
    }

    /// <inheritdoc/>
    public async ValueTask<IReadOnlyList<string>> FindExpiredAsync(DateTimeOffset? idleBefore, DateTimeOffset? createdBefore, int maxCount, CancellationToken cancellationToken)
    {
        if (idleBefore is null && createdBefore is null)
        {
            return [];
        }

        var idle = idleBefore?.ToUnixTimeMilliseconds() ?? long.MinValue;
        var created = createdBefore?.ToUnixTimeMilliseconds() ?? long.MinValue;
        return await Sessions.AsNoTracking()
            .Where(s => s.EndedAt == null && (s.LastActivityAt < idle || s.CreatedAt < created))
            .OrderBy(s => s.LastActivityAt)
            .Take(maxCount)
            .Select(s => s.SessionId)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async ValueTask<int> RemoveEndedAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        var ms = endedBefore.ToUnixTimeMilliseconds();
        using var writeLock = await WriteGateAsync(cancellationToken).ConfigureAwait(false);
        var ended = Sessions.Where(s => s.EndedAt != null && s.EndedAt < ms).Select(s => s.SessionId);
        await Clients.Where(c => ended.Contains(c.SessionId)).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
        return await Sessions.Where(s => s.EndedAt != null && s.EndedAt < ms).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Queues a write behind this process's other SQLite writers to the file, unless it runs inside a transaction (whose
    /// owner, such as <see cref="EntityFrameworkRevocationWriter{TContext}"/>, queued already).
    /// </summary>
    private async ValueTask<IDisposable?> WriteGateAsync(CancellationToken cancellationToken) =>
        _db.Database.CurrentTransaction is null ? await SqliteWriteGate.EnterAsync(_db, cancellationToken).ConfigureAwait(false) : null;

    private static AutoSignOutSessionClientEntry ToEntry(string sessionId, SessionClient client) =>
        new() { SessionId = sessionId, ClientId = client.ClientId, AuthorizationId = client.AuthorizationId ?? string.Empty };

    private static IdentitySession ToSession(AutoSignOutSessionEntry session, IEnumerable<AutoSignOutSessionClientEntry> clients) => new(
        session.SessionId,
        session.Subject,
        DateTimeOffset.FromUnixTimeMilliseconds(session.CreatedAt),
        DateTimeOffset.FromUnixTimeMilliseconds(session.LastActivityAt),
        session.EndedAt is { } ended ? DateTimeOffset.FromUnixTimeMilliseconds(ended) : null,
        [.. clients.Select(c => new SessionClient(c.ClientId, c.AuthorizationId.Length == 0 ? null : c.AuthorizationId))]);
}
