using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.OpenIddict.EntityFrameworkCore;

/// <summary>
/// Stores logout notifications in the same database transaction as the revocation: OpenIddict's EF stores, the session
/// store and the outbox all write through the request's <typeparamref name="TContext"/>, inside one transaction this
/// writer opens (or the caller's, when one is open). A rollback sends nothing; a commit loses nothing; the dispatcher
/// is woken after the commit.
/// </summary>
/// <typeparam name="TContext">The IdP's context, holding OpenIddict's entities and <see cref="AutoSignOutOpenIddictModel.UseAutoSignOut"/>.</typeparam>
public sealed class EntityFrameworkRevocationWriter<TContext> : IAutoSignOutRevocationWriter
    where TContext : DbContext
{
    private readonly IServiceProvider _services;
    private readonly TContext _db;
    private readonly IAutoSignOutServer _server;
    private readonly ILogoutDispatchSignal _signal;

    /// <summary>Creates the writer over the request's context.</summary>
    /// <param name="services">The request's services (scoped).</param>
    /// <param name="db">The IdP's context.</param>
    /// <param name="server">The engine, which mints the notifications.</param>
    /// <param name="signal">Wakes the dispatcher after the commit.</param>
    public EntityFrameworkRevocationWriter(IServiceProvider services, TContext db, IAutoSignOutServer server, ILogoutDispatchSignal signal)
    {
        _services = services;
        _db = db;
        _server = server;
        _signal = signal;
    }

    /// <inheritdoc/>
    public async Task<TResult> RevokeAsync<TResult>(Func<CancellationToken, Task<RevocationOutcome<TResult>>> revoke, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(revoke);
        var owned = _db.Database.CurrentTransaction is null && System.Transactions.Transaction.Current is null;
        // On SQLite, the transaction queues behind this process's other writers to the file (the outbox dispatcher's
        // among them) instead of meeting SQLite's "busy", which its ADO.NET provider answers by sleeping 150 ms.
        using var writeLock = owned ? await SqliteWriteGate.EnterAsync(_db, cancellationToken).ConfigureAwait(false) : null;
        var transaction = owned ? await _db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false) : null;
        LogoutHandOver? handOver = null;
        try
        {
            RevocationOutcome<TResult> outcome;
            using (RevocationScope.Enter(RevocationScope.Current with { Services = _services }))
            {
                outcome = await revoke(cancellationToken).ConfigureAwait(false);
                var notifications = new List<LogoutNotification>();
                foreach (var revocation in outcome.Revocations)
                {
                    notifications.AddRange(await _server.CreateNotificationsAsync(revocation, cancellationToken).ConfigureAwait(false));
                }

                if (notifications.Count > 0)
                {
                    // Leased to this instance before they are stored, handed over in memory after the commit; only when
                    // this writer owns the transaction, as a caller's could still roll back after the dispatcher sent them.
                    handOver = owned ? _server.PrepareHandOver(notifications) : null;
                    _db.AddLogoutNotifications(notifications);
                    await _db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            if (transaction is not null)
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }

            if (handOver is not null)
            {
                handOver.Complete();
            }
            else if (outcome.Revocations.Count > 0)
            {
                _signal.Notify();
            }

            return outcome.Result;
        }
        finally
        {
            handOver?.Dispose();
            foreach (var entry in _db.ChangeTracker.Entries<LogoutOutboxEntry>().ToList())
            {
                entry.State = EntityState.Detached;
            }

            if (transaction is not null)
            {
                await transaction.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
