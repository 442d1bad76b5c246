using System.Collections.Concurrent;
using System.Data.Common;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Duende.IdentityServer.EntityFramework.Interfaces;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende.EntityFrameworkCore;

/// <summary>
/// Shares the transaction of Duende's EF operational store with the outbox: the scope's
/// <see cref="IPersistedGrantDbContext"/> (which Duende's grant and server-side session stores save through) begins a
/// transaction, or joins the caller's, and an outbox context on the same <see cref="DbConnection"/> enlists in it
/// (<c>Database.UseTransaction</c>). The application's contexts stay as they are. Where the outbox is not EF, Duende's
/// stores are not EF, or the two are in different databases (provider or connection string), it returns
/// <see langword="null"/> and the binding stores the notifications on their own after Duende's write.
/// </summary>
/// <typeparam name="TOutboxContext">The context the EF outbox is registered with.</typeparam>
internal sealed class OperationalStoreRevocationTransactionSource<TOutboxContext> : IRevocationTransactionSource
    where TOutboxContext : DbContext
{
    private readonly IDbContextFactory<TOutboxContext> _outboxContexts;
    private readonly ILogoutOutbox _outbox;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(string?, string?, string?, string?), bool> _sameDatabase = new();

    public OperationalStoreRevocationTransactionSource(IDbContextFactory<TOutboxContext> outboxContexts, ILogoutOutbox outbox, ILogger<OperationalStoreRevocationTransactionSource<TOutboxContext>> logger)
    {
        _outboxContexts = outboxContexts;
        _outbox = outbox;
        _logger = logger;
    }

    public async ValueTask<IRevocationTransaction?> BeginAsync(IServiceProvider services, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (_outbox is not EntityFrameworkLogoutOutbox<TOutboxContext> || GrantContext(services) is not { } grants)
        {
            return null;
        }

        var outbox = await _outboxContexts.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!SameDatabase(grants, outbox))
            {
                await outbox.DisposeAsync().ConfigureAwait(false);
                return null;
            }

            // The caller's transaction (on this context, or an ambient System.Transactions one) is the caller's to end.
            IDisposable? writeLock = null;
            IDbContextTransaction? owned = null;
            if (grants.Database.CurrentTransaction is null && System.Transactions.Transaction.Current is null)
            {
                // On SQLite, the transaction queues behind this process's other writers to the file (the outbox
                // dispatcher's among them, keyed by the outbox's connection string) instead of meeting SQLite's "busy",
                // which its ADO.NET provider answers by sleeping.
                writeLock = await SqliteWriteGate.EnterAsync(outbox, cancellationToken).ConfigureAwait(false);
                try
                {
                    owned = await grants.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    writeLock?.Dispose();
                    throw;
                }
            }

            outbox.Database.SetDbConnection(grants.Database.GetDbConnection(), contextOwnsConnection: false);
            return new OperationalStoreRevocationTransaction(grants, outbox, owned, writeLock);
        }
        catch
        {
            await outbox.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static DbContext? GrantContext(IServiceProvider services)
    {
        try
        {
            return services.GetService<IPersistedGrantDbContext>() as DbContext;
        }
        catch (InvalidOperationException)
        {
            // Asked from the root provider (a singleton grant store, so not Duende's EF one) with scope validation on.
            return null;
        }
    }

    private bool SameDatabase(DbContext grants, DbContext outbox)
    {
        var key = (grants.Database.ProviderName, grants.Database.GetConnectionString(), outbox.Database.ProviderName, outbox.Database.GetConnectionString());
        return _sameDatabase.GetOrAdd(key, static (key, logger) =>
        {
            var same = key.Item1 == key.Item3 && key.Item2 is not null && key.Item4 is not null && Normalize(key.Item2) == Normalize(key.Item4);
            logger.OutboxTransaction(same);
            return same;
        }, _logger);
    }

    /// <summary>A connection string's settings in a stable order, so that two spellings of one database compare equal.</summary>
    private static string Normalize(string connectionString)
    {
        var builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        return string.Join(';', builder.Keys.Cast<string>().Select(k => $"{k.ToUpperInvariant()}={builder[k]}").Order(StringComparer.Ordinal));
    }
}

/// <summary>One Duende operation's transaction, shared by the operational store's context and an outbox context.</summary>
internal sealed class OperationalStoreRevocationTransaction : IRevocationTransaction
{
    private readonly DbContext _grants;
    private readonly DbContext _outbox;
    private readonly IDbContextTransaction? _owned;
    private readonly IDisposable? _writeLock;

    public OperationalStoreRevocationTransaction(DbContext grants, DbContext outbox, IDbContextTransaction? owned, IDisposable? writeLock)
    {
        _grants = grants;
        _outbox = outbox;
        _owned = owned;
        _writeLock = writeLock;
    }

    public bool Commits => _owned is not null;

    public async Task CommitAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(notifications);
        if (notifications.Count > 0)
        {
            if (_grants.Database.CurrentTransaction is { } transaction)
            {
                await _outbox.Database.UseTransactionAsync(transaction.GetDbTransaction(), cancellationToken).ConfigureAwait(false);
            }

            _outbox.AddLogoutNotifications(notifications);
            await _outbox.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }

        if (_owned is not null)
        {
            await _owned.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Not committed: the rollback takes Duende's deletion with it.
        try
        {
            if (_owned is not null)
            {
                await _owned.DisposeAsync().ConfigureAwait(false);
            }

            await _outbox.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            _writeLock?.Dispose();
        }
    }
}
