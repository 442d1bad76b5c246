using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>The default <see cref="IAutoSignOutSessionService"/>.</summary>
internal sealed class AutoSignOutSessionService : IAutoSignOutSessionService
{
    private readonly IAutoSignOutSessionStore _sessions;
    private readonly IAutoSignOutRevocationWriter _writer;
    private readonly IOpenIddictAuthorizationManager _authorizations;
    private readonly IOpenIddictTokenManager _tokens;
    private readonly IOpenIddictApplicationManager _applications;
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;
    private readonly TimeProvider _time;
    private readonly OpenIddictBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public AutoSignOutSessionService(
        IAutoSignOutSessionStore sessions,
        IAutoSignOutRevocationWriter writer,
        IOpenIddictAuthorizationManager authorizations,
        IOpenIddictTokenManager tokens,
        IOpenIddictApplicationManager applications,
        IOptionsMonitor<AutoSignOutOpenIddictOptions> options,
        TimeProvider time,
        OpenIddictBindingTelemetry telemetry,
        ILogger<AutoSignOutSessionService> logger)
    {
        _sessions = sessions;
        _writer = writer;
        _authorizations = authorizations;
        _tokens = tokens;
        _applications = applications;
        _options = options;
        _time = time;
        _telemetry = telemetry;
        _logger = logger;
    }

    public Task<bool> EndSessionAsync(string sessionId, string reason = RevocationReasons.Logout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return EndActiveSessionAsync(sessionId, reason, cancellationToken);
    }

    private async Task<bool> EndActiveSessionAsync(string sessionId, string reason, CancellationToken cancellationToken)
    {
        // Several paths end the same session in one request (the cookie's sign-out, then the end-session endpoint): a
        // read spares the later ones a write transaction that would find nothing to do.
        if (await _sessions.FindAsync(sessionId, cancellationToken).ConfigureAwait(false) is not { IsActive: true })
        {
            return false;
        }

        return await _writer.RevokeAsync(
            async ct =>
            {
                if (!await _sessions.TryEndAsync(sessionId, _time.GetUtcNow(), ct).ConfigureAwait(false)
                    || await _sessions.FindAsync(sessionId, ct).ConfigureAwait(false) is not { } session)
                {
                    return new RevocationOutcome<bool>(false, []);
                }

                await RevokeGrantsAsync(session, ct).ConfigureAwait(false);
                Ended(reason, 1);
                return new RevocationOutcome<bool>(true, [new Revocation { Subject = session.Subject, SessionId = sessionId, Reason = reason }]);
            },
            cancellationToken).ConfigureAwait(false);
    }

    public Task<int> SignOutEverywhereAsync(string subject, string reason = RevocationReasons.SignOutEverywhere, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return _writer.RevokeAsync(
            async ct =>
            {
                var now = _time.GetUtcNow();
                var revocations = new List<Revocation>();
                var inSessions = new HashSet<string>(StringComparer.Ordinal);
                foreach (var session in await _sessions.FindActiveBySubjectAsync(subject, ct).ConfigureAwait(false))
                {
                    if (await _sessions.TryEndAsync(session.SessionId, now, ct).ConfigureAwait(false))
                    {
                        revocations.Add(new Revocation { Subject = subject, SessionId = session.SessionId, Reason = reason });
                        foreach (var client in session.Clients)
                        {
                            inSessions.Add(client.ClientId);
                        }
                    }
                }

                // Clients holding live grants outside the sessions just ended hear a sub-only logout token.
                foreach (var clientId in await FindClientsWithGrantsAsync(subject, ct).ConfigureAwait(false))
                {
                    if (!inSessions.Contains(clientId))
                    {
                        revocations.Add(new Revocation { Subject = subject, ClientIds = [clientId], Reason = reason });
                    }
                }

                using (RevocationScope.Enter(RevocationScope.Current with { Suppressed = true }))
                {
                    await _authorizations.RevokeBySubjectAsync(subject, ct).ConfigureAwait(false);
                    await _tokens.RevokeBySubjectAsync(subject, ct).ConfigureAwait(false);
                }

                Ended(reason, revocations.Count);
                return new RevocationOutcome<int>(revocations.Count, revocations);
            },
            cancellationToken);
    }

    public Task<IReadOnlyList<IdentitySession>> GetSessionsAsync(string subject, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        return _sessions.FindActiveBySubjectAsync(subject, cancellationToken).AsTask();
    }

    private async Task RevokeGrantsAsync(IdentitySession session, CancellationToken cancellationToken)
    {
        if (!_options.CurrentValue.EndingSessionRevokesTokens)
        {
            return;
        }

        // The binding notifies for the whole session itself: the managers must not notify again per grant.
        using (RevocationScope.Enter(RevocationScope.Current with { Suppressed = true }))
        {
            foreach (var authorizationId in session.Clients.Select(c => c.AuthorizationId).OfType<string>().Distinct(StringComparer.Ordinal))
            {
                if (await _authorizations.FindByIdAsync(authorizationId, cancellationToken).ConfigureAwait(false) is { } authorization)
                {
                    await _authorizations.TryRevokeAsync(authorization, cancellationToken).ConfigureAwait(false);
                }

                await _tokens.RevokeByAuthorizationIdAsync(authorizationId, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<IReadOnlyCollection<string>> FindClientsWithGrantsAsync(string subject, CancellationToken cancellationToken)
    {
        var applicationIds = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var authorization in _authorizations.FindBySubjectAsync(subject, cancellationToken).ConfigureAwait(false))
        {
            if (await _authorizations.HasStatusAsync(authorization, Statuses.Valid, cancellationToken).ConfigureAwait(false)
                && await _authorizations.GetApplicationIdAsync(authorization, cancellationToken).ConfigureAwait(false) is { } applicationId)
            {
                applicationIds.Add(applicationId);
            }
        }

        var clientIds = new List<string>(applicationIds.Count);
        foreach (var applicationId in applicationIds)
        {
            if (await _applications.FindByIdAsync(applicationId, cancellationToken).ConfigureAwait(false) is { } application
                && await _applications.GetClientIdAsync(application, cancellationToken).ConfigureAwait(false) is { } clientId)
            {
                clientIds.Add(clientId);
            }
        }

        return clientIds;
    }

    private void Ended(string reason, int revocations)
    {
        _telemetry.SessionsEnded.Add(1, new KeyValuePair<string, object?>("reason", reason));
        _logger.SessionEnded(reason, revocations);
    }
}
