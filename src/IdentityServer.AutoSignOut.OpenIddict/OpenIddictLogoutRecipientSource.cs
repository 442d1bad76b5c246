using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// The engine's recipients for an OpenIddict IdP: for a session, the clients that took part in it; for a subject, the
/// clients of each of its active sessions (each with that session's <c>sid</c>) and the clients it holds live
/// authorizations with outside any session. Each client's back-channel logout URI and session flag come from its
/// OpenIddict application properties; a client without a URI is not notified.
/// </summary>
internal sealed class OpenIddictLogoutRecipientSource : ILogoutRecipientSource
{
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger _logger;

    public OpenIddictLogoutRecipientSource(IServiceScopeFactory scopes, ILogger<OpenIddictLogoutRecipientSource> logger)
    {
        _scopes = scopes;
        _logger = logger;
    }

    public async ValueTask<IReadOnlyList<LogoutRecipient>> GetRecipientsAsync(Revocation revocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        return await AmbientServices.RunAsync(_scopes, services => ResolveAsync(services, revocation, cancellationToken)).ConfigureAwait(false);
    }

    private async Task<IReadOnlyList<LogoutRecipient>> ResolveAsync(IServiceProvider services, Revocation revocation, CancellationToken cancellationToken)
    {
        var sessions = services.GetRequiredService<IAutoSignOutSessionStore>();
        var clients = new List<(string ClientId, string? SessionId)>();
        if (!string.IsNullOrEmpty(revocation.SessionId))
        {
            var session = await sessions.FindAsync(revocation.SessionId, cancellationToken).ConfigureAwait(false);
            var ids = revocation.ClientIds ?? session?.Clients.Select(c => c.ClientId).ToList() ?? [];
            clients.AddRange(ids.Distinct(StringComparer.Ordinal).Select(id => (id, (string?)revocation.SessionId)));
        }
        else if (!string.IsNullOrEmpty(revocation.Subject))
        {
            if (revocation.ClientIds is { } named)
            {
                clients.AddRange(named.Distinct(StringComparer.Ordinal).Select(id => (id, (string?)null)));
            }
            else
            {
                await AddSubjectClientsAsync(services, sessions, revocation.Subject, clients, cancellationToken).ConfigureAwait(false);
            }
        }

        var applications = services.GetRequiredService<IOpenIddictApplicationManager>();
        var recipients = new List<LogoutRecipient>(clients.Count);
        var settings = new Dictionary<string, BackChannelLogoutSettings>(StringComparer.Ordinal);
        foreach (var (clientId, sessionId) in clients)
        {
            if (!settings.TryGetValue(clientId, out var client))
            {
                var application = await applications.FindByClientIdAsync(clientId, cancellationToken).ConfigureAwait(false);
                client = application is null
                    ? default
                    : BackChannelLogoutSettings.Read(await applications.GetPropertiesAsync(application, cancellationToken).ConfigureAwait(false));
                settings[clientId] = client;
                if (client.Invalid)
                {
                    _logger.InvalidBackChannelLogoutUri(clientId);
                }
                else if (client.Uri is null)
                {
                    _logger.ClientWithoutBackChannelLogout(clientId);
                }
            }

            if (client.Uri is { } uri)
            {
                recipients.Add(new LogoutRecipient(clientId, uri, client.SessionRequired) { SessionId = sessionId });
            }
        }

        return recipients;
    }

    private static async Task AddSubjectClientsAsync(IServiceProvider services, IAutoSignOutSessionStore sessions, string subject, List<(string, string?)> clients, CancellationToken cancellationToken)
    {
        var inSessions = new HashSet<string>(StringComparer.Ordinal);
        foreach (var session in await sessions.FindActiveBySubjectAsync(subject, cancellationToken).ConfigureAwait(false))
        {
            foreach (var clientId in session.Clients.Select(c => c.ClientId).Distinct(StringComparer.Ordinal))
            {
                clients.Add((clientId, session.SessionId));
                inSessions.Add(clientId);
            }
        }

        // Grants outside any session (a password grant, a device flow, an IdP that ran before the binding) still get a
        // sub-only logout token.
        var authorizations = services.GetRequiredService<IOpenIddictAuthorizationManager>();
        var applications = services.GetRequiredService<IOpenIddictApplicationManager>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        await foreach (var authorization in authorizations.FindBySubjectAsync(subject, cancellationToken).ConfigureAwait(false))
        {
            if (!await authorizations.HasStatusAsync(authorization, Statuses.Valid, cancellationToken).ConfigureAwait(false)
                || await authorizations.GetApplicationIdAsync(authorization, cancellationToken).ConfigureAwait(false) is not { } applicationId
                || !seen.Add(applicationId))
            {
                continue;
            }

            var application = await applications.FindByIdAsync(applicationId, cancellationToken).ConfigureAwait(false);
            if (application is not null && await applications.GetClientIdAsync(application, cancellationToken).ConfigureAwait(false) is { } clientId && !inSessions.Contains(clientId))
            {
                clients.Add((clientId, null));
            }
        }
    }
}
