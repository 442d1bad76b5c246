namespace AutoSignOut.IdentityServer;

/// <summary>
/// The engine's entry point for triggers: turns a revocation into one signed logout token per recipient, stores them
/// in the outbox and wakes the dispatcher. Returns once the notifications are stored, never waiting for a client.
/// </summary>
public interface IAutoSignOutServer
{
    /// <summary>Ends every session of <paramref name="subject"/> at every client, for example after a password change.</summary>
    /// <param name="subject">The subject (<c>sub</c>).</param>
    /// <param name="reason">The reason; default <see cref="RevocationReasons.SignOutEverywhere"/>.</param>
    /// <param name="cancellationToken">Cancels the enqueue.</param>
    /// <returns>The number of notifications enqueued.</returns>
    Task<int> SignOutEverywhereAsync(string subject, string reason = RevocationReasons.SignOutEverywhere, CancellationToken cancellationToken = default);

    /// <summary>Ends one session at every client that shares it.</summary>
    /// <param name="sessionId">The session (<c>sid</c>).</param>
    /// <param name="reason">The reason; default <see cref="RevocationReasons.Logout"/>.</param>
    /// <param name="cancellationToken">Cancels the enqueue.</param>
    /// <returns>The number of notifications enqueued.</returns>
    Task<int> SignOutSessionAsync(string sessionId, string reason = RevocationReasons.Logout, CancellationToken cancellationToken = default);

    /// <summary>Notifies the recipients of <paramref name="revocation"/>.</summary>
    /// <param name="revocation">What was revoked; needs a subject, a session id or both.</param>
    /// <param name="cancellationToken">Cancels the enqueue.</param>
    /// <returns>The number of notifications enqueued.</returns>
    Task<int> RevokeAsync(Revocation revocation, CancellationToken cancellationToken = default);

    /// <summary>
    /// Resolves the recipients of <paramref name="revocation"/> and mints their tokens without storing anything: for a
    /// binding that writes the notifications into its own database transaction, then calls
    /// <see cref="ILogoutDispatchSignal.Notify"/> after the commit.
    /// </summary>
    /// <param name="revocation">What was revoked; needs a subject, a session id or both.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The notifications, ready to store.</returns>
    Task<IReadOnlyList<LogoutNotification>> CreateNotificationsAsync(Revocation revocation, CancellationToken cancellationToken = default);

    /// <summary>
    /// Prepares notifications from <see cref="CreateNotificationsAsync"/> that a binding stores in a transaction it
    /// owns: leases them to this instance's dispatcher when it has room, so that, after the commit,
    /// <see cref="LogoutHandOver.Complete"/> hands them over in memory. Call it before adding them to the transaction;
    /// dispose the result. Not for a transaction the caller does not commit itself: the dispatcher could deliver before
    /// a rollback (call <see cref="ILogoutDispatchSignal.Notify"/> after the commit instead).
    /// </summary>
    /// <param name="notifications">The notifications about to be stored.</param>
    /// <returns>The hand-over; call <see cref="LogoutHandOver.Complete"/> after the commit.</returns>
    LogoutHandOver PrepareHandOver(IReadOnlyList<LogoutNotification> notifications);
}
