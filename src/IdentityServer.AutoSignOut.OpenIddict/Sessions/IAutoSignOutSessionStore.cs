namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Where IdP login sessions are kept. OpenIddict 7 has no session entity of its own, so the binding keeps them behind
/// this seam; a store over OpenIddict's future session entity can replace it. Registered as a scoped service, so that an
/// implementation can share the request's database context (and its transaction) with OpenIddict's stores.
/// </summary>
public interface IAutoSignOutSessionStore
{
    /// <summary>Stores a new active session.</summary>
    /// <param name="session">The session; its <see cref="IdentitySession.Clients"/> are usually empty.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask CreateAsync(IdentitySession session, CancellationToken cancellationToken);

    /// <summary>Finds a session, active or ended; <see langword="null"/> when unknown.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IdentitySession?> FindAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>Finds the active sessions of a subject.</summary>
    /// <param name="subject">The subject.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<IdentitySession>> FindActiveBySubjectAsync(string subject, CancellationToken cancellationToken);

    /// <summary>Finds the session an OpenIddict authorization was created in; <see langword="null"/> when none.</summary>
    /// <param name="authorizationId">The authorization id.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<string?> FindSessionIdByAuthorizationAsync(string authorizationId, CancellationToken cancellationToken);

    /// <summary>Records that a client took part in a session (idempotent for the same client and authorization).</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="client">The client and its authorization.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask AddClientAsync(string sessionId, SessionClient client, CancellationToken cancellationToken);

    /// <summary>Records activity on an active session.</summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="at">When.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask TouchAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Ends an active session. Returns <see langword="true"/> only for the caller that ended it, so that exactly one
    /// revocation follows however many paths (cookie sign-out, end-session endpoint, expiry) race to end it.
    /// </summary>
    /// <param name="sessionId">The session id.</param>
    /// <param name="at">When it ended.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<bool> TryEndAsync(string sessionId, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>Finds active sessions idle since before <paramref name="idleBefore"/> or created before <paramref name="createdBefore"/>.</summary>
    /// <param name="idleBefore">Sessions whose last activity is older than this are expired; <see langword="null"/>: no idle limit.</param>
    /// <param name="createdBefore">Sessions created before this are expired; <see langword="null"/>: no lifetime limit.</param>
    /// <param name="maxCount">The most sessions to return.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    ValueTask<IReadOnlyList<string>> FindExpiredAsync(DateTimeOffset? idleBefore, DateTimeOffset? createdBefore, int maxCount, CancellationToken cancellationToken);

    /// <summary>Deletes sessions that ended before <paramref name="endedBefore"/>; returns how many.</summary>
    /// <param name="endedBefore">The retention limit.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    ValueTask<int> RemoveEndedAsync(DateTimeOffset endedBefore, CancellationToken cancellationToken);
}
