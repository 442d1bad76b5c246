using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs a Duende operation inside a <see cref="RevocationBatch"/> and hands what it revoked to the engine afterwards:
/// the notifications are stored in the outbox (a fast write), never sent while the caller waits. With an
/// <see cref="IRevocationTransactionSource"/> that can share Duende's transaction, they are stored in it.
/// </summary>
internal sealed class RevocationNotifier
{
    private readonly IServiceProvider _services;
    private readonly IAutoSignOutServer _server;
    private readonly ILogoutDispatchSignal _signal;
    private readonly NotificationRetryQueue _retries;
    private readonly DuendeBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public RevocationNotifier(IServiceProvider services, IAutoSignOutServer server, ILogoutDispatchSignal signal, NotificationRetryQueue retries, DuendeBindingTelemetry telemetry, ILogger<RevocationNotifier> logger)
    {
        // The services of whoever created the decorator: a scope's, so Duende's stores and a transaction agree on the context.
        _services = services;
        _server = server;
        _signal = signal;
        _retries = retries;
        _telemetry = telemetry;
        _logger = logger;
    }

    /// <summary>Runs <paramref name="operation"/> in a batch (or the running one), then notifies.</summary>
    /// <param name="operation">Duende's work.</param>
    /// <param name="reason">The revocations' reason, unless one is set with <see cref="AutoSignOutRevocationReason.Use"/>.</param>
    /// <param name="sessionEnded">
    /// Whether IdentityServer ended the session before this runs (logout and expiry coordination): then a failure of the
    /// transaction shared with IdentityServer's writes cannot undo the revocation, so it is finished without that
    /// transaction (Duende's work again, the notifications stored after it, or retried) rather than failing the caller.
    /// </param>
    public async Task<T> RunAsync<T>(Func<RevocationBatch, Task<T>> operation, string? reason = null, bool sessionEnded = false)
    {
        var batch = RevocationBatch.Begin(reason);
        if (batch is null)
        {
            return await operation(RevocationBatch.Current!).ConfigureAwait(false);
        }

        IRevocationTransaction? transaction;
        try
        {
            transaction = _services.GetService<IRevocationTransactionSource>() is { } transactions
                ? await transactions.BeginAsync(_services, CancellationToken.None).ConfigureAwait(false)
                : null;
        }
        catch
        {
            batch.End();
            throw;
        }

        if (transaction is not null)
        {
            try
            {
                await using (transaction.ConfigureAwait(false))
                {
                    return await RunInTransactionAsync(operation, batch, transaction).ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (sessionEnded && exception is not OperationCanceledException)
            {
                // Rolled back, but the session IdentityServer removed before this ran stays removed: finish the
                // revocation without the shared transaction.
                _telemetry.Failures.Add(1);
                _logger.SharedTransactionFailedAfterSessionEnded(exception);

                // The batch was ended in the transaction's own flow; an async method's ambient change does not reach
                // its caller, so it is ended here too before a new one begins.
                batch.End();
                batch = RevocationBatch.Begin(reason)!;
            }
        }

        try
        {
            return await operation(batch).ConfigureAwait(false);
        }
        finally
        {
            // The ambient batch is cleared before notifying: the engine's recipient lookups read grants through the
            // decorated store, and that must not join this batch.
            batch.End();
            // Whatever Duende removed before a failure is revoked all the same: notify it.
            await NotifyAsync(batch).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Runs the operation and stores its notifications in one transaction: a failure anywhere before the commit (Duende's,
    /// minting the tokens, storing them) rolls back Duende's writes with them and reaches the caller.
    /// </summary>
    private async Task<T> RunInTransactionAsync<T>(Func<RevocationBatch, Task<T>> operation, RevocationBatch batch, IRevocationTransaction transaction)
    {
        T result;
        try
        {
            result = await operation(batch).ConfigureAwait(false);
        }
        finally
        {
            batch.End();
        }

        var revocations = batch.ToRevocations();
        var notifications = new List<LogoutNotification>();
        var counts = new List<int>(revocations.Count);
        foreach (var revocation in revocations)
        {
            var created = await _server.CreateNotificationsAsync(revocation).ConfigureAwait(false);
            notifications.AddRange(created);
            counts.Add(created.Count);
        }

        // Leased to this instance's dispatcher before they are stored and handed over in memory after the commit, but only
        // when this transaction commits: the caller's could still roll back after the dispatcher sent them.
        using var handOver = transaction.Commits && notifications.Count > 0 ? _server.PrepareHandOver(notifications) : null;
        await transaction.CommitAsync(notifications, CancellationToken.None).ConfigureAwait(false);
        if (handOver is not null)
        {
            handOver.Complete();
        }
        else if (notifications.Count > 0)
        {
            // Found by the dispatcher once the caller commits.
            _signal.Notify();
        }

        for (var i = 0; i < revocations.Count; i++)
        {
            Record(revocations[i], counts[i]);
        }

        return result;
    }

    /// <inheritdoc cref="RunAsync{T}(Func{RevocationBatch, Task{T}}, string?, bool)"/>
    public Task RunAsync(Func<RevocationBatch, Task> operation, string? reason = null, bool sessionEnded = false) =>
        RunAsync(
            async batch =>
            {
                await operation(batch).ConfigureAwait(false);
                return true;
            },
            reason,
            sessionEnded);

    /// <summary>Runs <paramref name="operation"/> in a batch whose grant removals are not revocations.</summary>
    public static async Task<T> IgnoringAsync<T>(Func<Task<T>> operation)
    {
        var batch = RevocationBatch.BeginIgnoring();
        try
        {
            return await operation().ConfigureAwait(false);
        }
        finally
        {
            batch.End();
        }
    }

    private async Task NotifyAsync(RevocationBatch batch)
    {
        foreach (var revocation in batch.ToRevocations())
        {
            try
            {
                Record(revocation, await _server.RevokeAsync(revocation).ConfigureAwait(false));
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // Duende has already revoked; failing the user's logout or the admin call would not undo it. The
                // notifications are stored again in the background, unless the revocation itself is refused.
                _telemetry.Failures.Add(1);
                var retried = exception is not ArgumentException && _retries.TryAdd(revocation);
                _logger.NotificationEnqueueFailed(exception, revocation.Reason, retried);
            }
        }
    }

    private void Record(Revocation revocation, int count)
    {
        _telemetry.Revocations.Add(1, new KeyValuePair<string, object?>("autosignout.reason", revocation.Reason));
        _logger.RevocationNotified(revocation.Reason, count);
    }
}
