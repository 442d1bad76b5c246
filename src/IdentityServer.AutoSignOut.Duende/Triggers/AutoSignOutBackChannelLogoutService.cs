using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Replaces Duende's <see cref="IBackChannelLogoutService"/>: instead of POSTing logout tokens while the user's logout
/// page (or the admin call, or the expiry job) waits, once and without retry, it hands the session's clients to the
/// engine, which stores one notification per client and delivers it in the background with retries.
/// </summary>
internal sealed class AutoSignOutBackChannelLogoutService : IBackChannelLogoutService
{
    private readonly RevocationNotifier _notifier;
    private readonly DuendeLogoutSigningCredentialsSource _signing;

    public AutoSignOutBackChannelLogoutService(RevocationNotifier notifier, DuendeLogoutSigningCredentialsSource signing)
    {
        _notifier = notifier;
        _signing = signing;
    }

    public Task SendLogoutNotificationsAsync(LogoutNotificationContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _signing.Remember(context.Issuer);
        var reason = context.LogoutReason switch
        {
            LogoutNotificationReason.SessionExpiration => RevocationReasons.SessionEnded,
            LogoutNotificationReason.Terminated => RevocationReasons.AdminRevoked,
            _ => RevocationReasons.Logout,
        };
        var subject = string.IsNullOrEmpty(context.SubjectId) ? null : context.SubjectId;
        var sessionId = string.IsNullOrEmpty(context.SessionId) ? null : context.SessionId;
        if (subject is null && sessionId is null)
        {
            return Task.CompletedTask;
        }

        return _notifier.RunAsync(batch =>
        {
            foreach (var clientId in (context.ClientIds ?? []).Distinct(StringComparer.Ordinal))
            {
                batch.Add(new RevocationTarget(subject, sessionId, clientId, reason, EndsSession: true));
            }

            return Task.CompletedTask;
        });
    }
}
