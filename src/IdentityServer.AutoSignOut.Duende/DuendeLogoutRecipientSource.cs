using System.Collections.Concurrent;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Stores;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// The engine's recipients for Duende IdentityServer: the clients a revocation names, or else the clients of the
/// session (its server-side session and its grants), or else of every server-side session of the subject (each with
/// its <c>sid</c>) and of its grants. Each client's <see cref="Client.BackChannelLogoutUri"/> and
/// <see cref="Client.BackChannelLogoutSessionRequired"/> come from <see cref="IClientStore"/>; a client without a URI is
/// not notified, and one whose URI is not an absolute http(s) URI is reported once and skipped.
/// </summary>
internal sealed class DuendeLogoutRecipientSource : ILogoutRecipientSource
{
    private readonly IServiceScopeFactory _scopes;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, string> _reported = new(StringComparer.Ordinal);

    public DuendeLogoutRecipientSource(IServiceScopeFactory scopes, ILogger<DuendeLogoutRecipientSource> logger)
    {
        _scopes = scopes;
        _logger = logger;
    }

    public async ValueTask<IReadOnlyList<LogoutRecipient>> GetRecipientsAsync(Revocation revocation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        await using var scope = _scopes.CreateAsyncScope();
        var services = scope.ServiceProvider;
        var targets = new List<(string ClientId, string? SessionId)>();
        if (revocation.ClientIds is { } named)
        {
            targets.AddRange(named.Distinct(StringComparer.Ordinal).Select(id => (id, revocation.SessionId)));
        }
        else
        {
            await AddClientsAsync(services, revocation, targets, cancellationToken).ConfigureAwait(false);
        }

        // A client reached through one of the subject's sessions hears about that session; a second, sub-only token for
        // a grant of the same client would only repeat it.
        var inSessions = targets.Where(t => t.SessionId is not null).Select(t => t.ClientId).ToHashSet(StringComparer.Ordinal);
        targets.RemoveAll(t => t.SessionId is null && inSessions.Contains(t.ClientId));

        var clients = services.GetRequiredService<IClientStore>();
        var settings = new Dictionary<string, Client?>(StringComparer.Ordinal);
        var recipients = new List<LogoutRecipient>(targets.Count);
        foreach (var (clientId, sessionId) in targets.Distinct())
        {
            if (!settings.TryGetValue(clientId, out var client))
            {
                settings[clientId] = client = await clients.FindClientByIdAsync(clientId).ConfigureAwait(false);
            }

            if (client is null || string.IsNullOrWhiteSpace(client.BackChannelLogoutUri))
            {
                _logger.ClientWithoutBackChannelLogout(clientId);
                continue;
            }

            if (!BackChannelLogoutUris.TryParse(client.BackChannelLogoutUri, out var uri))
            {
                if (_reported.TryAdd(clientId, client.BackChannelLogoutUri))
                {
                    _logger.InvalidBackChannelLogoutUri(clientId);
                }

                continue;
            }

            recipients.Add(new LogoutRecipient(clientId, uri, client.BackChannelLogoutSessionRequired) { SessionId = sessionId });
        }

        return recipients;
    }

    private static async Task AddClientsAsync(IServiceProvider services, Revocation revocation, List<(string, string?)> targets, CancellationToken cancellationToken)
    {
        // Server-side sessions know which clients took part in each session (Duende's session client list).
        if (services.GetService<IServerSideTicketStore>() is { } sessions)
        {
            var found = await sessions.GetSessionsAsync(new SessionFilter { SubjectId = revocation.Subject, SessionId = revocation.SessionId }, cancellationToken).ConfigureAwait(false);
            foreach (var session in found)
            {
                var sessionId = revocation.SessionId ?? session.SessionId;
                targets.AddRange(session.ClientIds.Select(id => (id, (string?)sessionId)));
            }
        }

        // Grants: clients holding refresh or reference tokens (a session's, or the subject's outside sessions).
        var grants = await services.GetRequiredService<IPersistedGrantStore>().GetAllAsync(new PersistedGrantFilter
        {
            SubjectId = revocation.Subject,
            SessionId = revocation.SessionId,
        }).ConfigureAwait(false);
        foreach (var grant in grants)
        {
            if (!string.IsNullOrEmpty(grant.ClientId))
            {
                targets.Add((grant.ClientId, revocation.SessionId ?? (string.IsNullOrEmpty(grant.SessionId) ? null : grant.SessionId)));
            }
        }
    }
}
