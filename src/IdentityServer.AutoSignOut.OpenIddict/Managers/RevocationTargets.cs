using Microsoft.Extensions.DependencyInjection;
using OpenIddict.Abstractions;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// What a manager revocation touched, gathered before it runs: one entry per subject, client application and
/// authorization that still had live grants. Turned into one <see cref="Revocation"/> per subject, session and client.
/// </summary>
internal sealed class RevocationTargets
{
    private readonly HashSet<(string Subject, string ApplicationId, string? AuthorizationId)> _targets = [];

    public int Count => _targets.Count;

    public void Add(string? subject, string? applicationId, string? authorizationId)
    {
        // Grants without a user (client credentials) or without a client have nobody to sign out.
        if (!string.IsNullOrEmpty(subject) && !string.IsNullOrEmpty(applicationId))
        {
            _targets.Add((subject, applicationId, authorizationId));
        }
    }

    public async Task<IReadOnlyList<Revocation>> ToRevocationsAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        if (_targets.Count == 0)
        {
            return [];
        }

        var applications = services.GetRequiredService<IOpenIddictApplicationManager>();
        var sessions = services.GetRequiredService<IAutoSignOutSessionStore>();
        var reason = RevocationScope.Current.Reason ?? RevocationReasons.TokenRevoked;
        var clientIds = new Dictionary<string, string?>(StringComparer.Ordinal);
        var revocations = new HashSet<(string Subject, string? SessionId, string ClientId)>();
        foreach (var (subject, applicationId, authorizationId) in _targets)
        {
            if (!clientIds.TryGetValue(applicationId, out var clientId))
            {
                var application = await applications.FindByIdAsync(applicationId, cancellationToken).ConfigureAwait(false);
                clientId = application is null ? null : await applications.GetClientIdAsync(application, cancellationToken).ConfigureAwait(false);
                clientIds[applicationId] = clientId;
            }

            if (clientId is null)
            {
                continue;
            }

            var sessionId = authorizationId is null ? null : await sessions.FindSessionIdByAuthorizationAsync(authorizationId, cancellationToken).ConfigureAwait(false);
            revocations.Add((subject, sessionId, clientId));
        }

        return [.. revocations.Select(r => new Revocation { Subject = r.Subject, SessionId = r.SessionId, ClientIds = [r.ClientId], Reason = reason })];
    }
}
