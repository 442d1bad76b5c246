namespace AutoSignOut.IdentityServer;

/// <summary>
/// Notifications a binding is about to store in its own database transaction, prepared by
/// <see cref="IAutoSignOutServer.PrepareHandOver"/>: when this instance's dispatcher has room, they are leased to it
/// before they are stored, and <see cref="Complete"/> hands them over in memory after the commit, so the first delivery
/// needs no outbox query. Disposing without <see cref="Complete"/> (the transaction rolled back) gives the room back;
/// rows stored nonetheless are delivered once their lease runs out.
/// </summary>
public sealed class LogoutHandOver : IDisposable
{
    private readonly IReadOnlyList<LogoutNotification> _notifications;
    private readonly bool _reserved;
    private readonly AutoSignOutServer _server;
    private int _done;

    internal LogoutHandOver(IReadOnlyList<LogoutNotification> notifications, bool reserved, AutoSignOutServer server)
    {
        _notifications = notifications;
        _reserved = reserved;
        _server = server;
    }

    /// <summary>
    /// Call after the notifications are committed: counts them as enqueued and hands them to the dispatcher (in
    /// memory when they were leased to this instance, else by waking it to read the outbox). Idempotent.
    /// </summary>
    public void Complete()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0)
        {
            _server.CompleteHandOver(_notifications, _reserved);
        }
    }

    /// <summary>Gives the dispatcher's room back when <see cref="Complete"/> was not called.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _done, 1) == 0)
        {
            _server.CancelHandOver(_notifications, _reserved);
        }
    }
}
