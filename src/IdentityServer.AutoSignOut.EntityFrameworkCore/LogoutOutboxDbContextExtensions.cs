using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>
/// Writes logout notifications through an IdP's own context, so that they commit with the revocation.
/// </summary>
public static class LogoutOutboxDbContextExtensions
{
    /// <summary>
    /// Adds <paramref name="notifications"/> to <paramref name="context"/>; they are stored by its next
    /// <c>SaveChanges</c>, inside whatever transaction it runs in. Call <see cref="ILogoutDispatchSignal.Notify"/>
    /// after the commit so the dispatcher starts at once.
    /// </summary>
    /// <param name="context">A context whose model includes the outbox (<see cref="LogoutOutboxModel.ApplyAutoSignOutOutbox"/>).</param>
    /// <param name="notifications">Notifications from <see cref="IAutoSignOutServer.CreateNotificationsAsync"/>.</param>
    public static void AddLogoutNotifications(this DbContext context, IEnumerable<LogoutNotification> notifications)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(notifications);
        context.Set<LogoutOutboxEntry>().AddRange(notifications.Select(LogoutOutboxEntryMapper.ToEntry));
    }
}
