namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// An <see cref="IAutoSignOutSessionStore"/> in process memory: the default, for tests and single-process IdPs whose
/// sessions may be forgotten on restart. Use the EF Core store (<c>UseEntityFrameworkCore&lt;TContext&gt;()</c>) to keep
/// sessions in the IdP's database and end them in the same transaction as OpenIddict's revocations.
/// </summary>
public sealed class InMemoryAutoSignOutSessionStore : IAutoSignOutSessionStore
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, IdentitySession> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _sessionByAuthorization = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public ValueTask CreateAsync(IdentitySession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        lock (_gate)
        {
            _sessions.Add(session.SessionId, session);
            foreach (var client in session.Clients)
            {
                Index(session.SessionId, client);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<IdentitySession?> FindAsync(string sessionId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_sessions.GetValueOrDefault(sessionId));
        }
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<IdentitySession>> FindActiveBySubjectAsync(string subject, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<IdentitySession> found = [.. _sessions.Values.Where(s => s.IsActive && s.Subject == subject)];
            return ValueTask.FromResult(found);
        }
    }

    /// <inheritdoc/>
    public ValueTask<string?> FindSessionIdByAuthorizationAsync(string authorizationId, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(_sessionByAuthorization.GetValueOrDefault(authorizationId));
        }
    }

    /// <inheritdoc/>
    public ValueTask AddClientAsync(string sessionId, SessionClient client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        lock (_gate)
        {
            if (_sessions.TryGetValue(sessionId, out var session) && !session.Clients.Contains(client))
            {
                _sessions[sessionId] = session with { Clients = [.. session.Clients, client] };
                Index(sessionId, client);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask TouchAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(sessionId, out var session) && session.IsActive && session.LastActivityAt < at)
            {
                _sessions[sessionId] = session with { LastActivityAt = at };
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask<bool> TryEndAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_sessions.TryGetValue(sessionId, out var session) && session.IsActive)
            {
                _sessions[sessionId] = session with { EndedAt = at };
                return ValueTask.FromResult(true);
            }
        }

        return ValueTask.FromResult(false);
    }

    /// <inheritdoc/>
    public ValueTask<IReadOnlyList<string>> FindExpiredAsync(DateTimeOffset? idleBefore, DateTimeOffset? createdBefore, int maxCount, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            IReadOnlyList<string> found = [.. _sessions.Values
                .Where(s => s.IsActive && ((idleBefore is { } idle && s.LastActivityAt < idle) || (createdBefore is { } created && s.CreatedAt < created)))
                .Take(maxCount)
                .Select(s => s.SessionId)];
            return ValueTask.FromResult(found);
        }
    }

    /// <inheritdoc/>
    public ValueTask<int> RemoveEndedAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            var ended = _sessions.Values.Where(s => s.EndedAt < endedBefore).ToList();
            foreach (var session in ended)
            {
                _sessions.Remove(session.SessionId);
                foreach (var client in session.Clients)
                {
                    if (client.AuthorizationId is { } id)
                    {
                        _sessionByAuthorization.Remove(id);
                    }
                }
            }

            return ValueTask.FromResult(ended.Count);
        }
    }

    private void Index(string sessionId, SessionClient client)
    {
        if (client.AuthorizationId is { } id)
        {
            _sessionByAuthorization[id] = sessionId;
        }
    }
}
