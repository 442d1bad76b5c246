namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Where the notifications of a Duende operation that revokes (a logout, a session or grant removal) are written. Without
/// one, the binding stores them through the engine's outbox right after Duende's own writes; with one, they are written
/// in the transaction of Duende's writes, so a rollback sends nothing and a commit always has its notifications.
/// <c>AutoSignOut.IdentityServer.Duende.EntityFrameworkCore</c> provides one for Duende's EF operational store.
/// </summary>
public interface IRevocationTransactionSource
{
    /// <summary>
    /// Begins (or joins) the transaction Duende's stores will write in for the operation about to run, or returns
    /// <see langword="null"/> when the notifications cannot share it (other stores, another database).
    /// </summary>
    /// <param name="services">The services of the scope the operation runs in, whose stores Duende writes through.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>The transaction, or <see langword="null"/>.</returns>
    ValueTask<IRevocationTransaction?> BeginAsync(IServiceProvider services, CancellationToken cancellationToken);
}

/// <summary>
/// A transaction around one Duende operation. Disposing it without <see cref="CommitAsync"/> rolls back what it began;
/// a transaction it joined (the caller's) is the caller's to commit or roll back.
/// </summary>
public interface IRevocationTransaction : IAsyncDisposable
{
    /// <summary>
    /// Whether <see cref="CommitAsync"/> commits: <see langword="true"/> when this began the transaction,
    /// <see langword="false"/> when it joined the caller's, which may still roll back.
    /// </summary>
    bool Commits { get; }

    /// <summary>Stores <paramref name="notifications"/> in the transaction, then commits it when this began it.</summary>
    /// <param name="notifications">The operation's notifications, from <see cref="IAutoSignOutServer.CreateNotificationsAsync"/>; may be empty.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    /// <returns>A task that completes once they are stored (and committed, when this began the transaction).</returns>
    Task CommitAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken);
}
