using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs Duende's logout and session-expiry coordination as one revocation: the grants it removes and the back-channel
/// logout it asks for become one notification per client of the session.
/// </summary>
internal sealed class SessionCoordinationDecorator : ISessionCoordinationService
{
    private readonly ISessionCoordinationService _inner;
    private readonly RevocationNotifier _notifier;

    public SessionCoordinationDecorator(ISessionCoordinationService inner, RevocationNotifier notifier)
    {
        _inner = inner;
        _notifier = notifier;
    }

    public Task ProcessLogoutAsync(UserSession session) => _notifier.RunAsync(_ => _inner.ProcessLogoutAsync(session));

    public Task ProcessExpirationAsync(UserSession session) => _notifier.RunAsync(_ => _inner.ProcessExpirationAsync(session));

    public Task<bool> ValidateSessionAsync(SessionValidationRequest request) => _inner.ValidateSessionAsync(request);
}
