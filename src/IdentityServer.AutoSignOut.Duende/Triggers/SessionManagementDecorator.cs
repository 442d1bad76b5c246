using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Stores;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs an admin's <see cref="ISessionManagementService.RemoveSessionsAsync"/> as one revocation, reason
/// <see cref="RevocationReasons.AdminRevoked"/> (or the one set with <see cref="AutoSignOutRevocationReason.Use"/>): the
/// grants it revokes and the back-channel logout it asks for become one notification per client, stored before the call
/// returns and delivered in the background.
/// </summary>
internal sealed class SessionManagementDecorator : ISessionManagementService
{
    private readonly ISessionManagementService _inner;
    private readonly RevocationNotifier _notifier;

    public SessionManagementDecorator(ISessionManagementService inner, RevocationNotifier notifier)
    {
        _inner = inner;
        _notifier = notifier;
    }

    public Task<QueryResult<UserSession>> QuerySessionsAsync(SessionQuery? filter = null, CancellationToken cancellationToken = default) =>
        _inner.QuerySessionsAsync(filter, cancellationToken);

    public Task RemoveSessionsAsync(RemoveSessionsContext context, CancellationToken cancellationToken = default) =>
        _notifier.RunAsync(_ => _inner.RemoveSessionsAsync(context, cancellationToken), AutoSignOutRevocationReason.Current ?? RevocationReasons.AdminRevoked);
}
