using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Microsoft.AspNetCore.Http;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs Duende's logout and session-expiry coordination as one revocation: the grants it removes and the back-channel
/// logout it asks for become one notification per client of the session.
/// </summary>
/// <remarks>
/// With server-side sessions, Duende 7 marks every session its ticket store removes as expired, so one logout request
/// runs both <see cref="ProcessLogoutAsync"/> and <see cref="ProcessExpirationAsync"/> for the same session. The second
/// one in a request is the same event and notifies nobody (Duende's own work in it still runs).
/// </remarks>
internal sealed class SessionCoordinationDecorator : ISessionCoordinationService
{
    private const string EndedSessionsKey = "AutoSignOut.Duende.EndedSessions";

    private readonly ISessionCoordinationService _inner;
    private readonly RevocationNotifier _notifier;
    private readonly IHttpContextAccessor _http;

    public SessionCoordinationDecorator(ISessionCoordinationService inner, RevocationNotifier notifier, IHttpContextAccessor http)
    {
        _inner = inner;
        _notifier = notifier;
        _http = http;
    }

    public Task ProcessLogoutAsync(UserSession session) => RunOnceAsync(session, () => _inner.ProcessLogoutAsync(session));

    public Task ProcessExpirationAsync(UserSession session) => RunOnceAsync(session, () => _inner.ProcessExpirationAsync(session));

    public Task<bool> ValidateSessionAsync(SessionValidationRequest request) => _inner.ValidateSessionAsync(request);

    private Task RunOnceAsync(UserSession session, Func<Task> work)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (_http.HttpContext is { } context)
        {
            if (context.Items[EndedSessionsKey] is not HashSet<(string?, string?)> ended)
            {
                context.Items[EndedSessionsKey] = ended = [];
            }

            if (!ended.Add((session.SubjectId, session.SessionId)))
            {
                return RevocationNotifier.IgnoringAsync(async () =>
                {
                    await work().ConfigureAwait(false);
                    return true;
                });
            }
        }

        // Duende's ticket store removed the session before this coordination runs.
        return _notifier.RunAsync(_ => work(), sessionEnded: true);
    }
}
