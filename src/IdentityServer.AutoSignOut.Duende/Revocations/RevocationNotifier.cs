using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Runs a Duende operation inside a <see cref="RevocationBatch"/> and hands what it revoked to the engine afterwards:
/// the notifications are stored in the outbox (a fast write), never sent while the caller waits.
/// </summary>
internal sealed class RevocationNotifier
{
    private readonly IAutoSignOutServer _server;
    private readonly DuendeBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public RevocationNotifier(IAutoSignOutServer server, DuendeBindingTelemetry telemetry, ILogger<RevocationNotifier> logger)
    {
        _server = server;
        _telemetry = telemetry;
        _logger = logger;
    }

    /// <summary>Runs <paramref name="operation"/> in a batch (or the running one), then notifies.</summary>
    public async Task<T> RunAsync<T>(Func<RevocationBatch, Task<T>> operation, string? reason = null)
    {
        var batch = RevocationBatch.Begin(reason);
        if (batch is null)
        {
            return await operation(RevocationBatch.Current!).ConfigureAwait(false);
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

    /// <inheritdoc cref="RunAsync{T}(Func{RevocationBatch, Task{T}}, string?)"/>
    public Task RunAsync(Func<RevocationBatch, Task> operation, string? reason = null) =>
        RunAsync(async batch =>
        {
            await operation(batch).ConfigureAwait(false);
            return true;
        }, reason);

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
                var count = await _server.RevokeAsync(revocation).ConfigureAwait(false);
                _telemetry.Revocations.Add(1, new KeyValuePair<string, object?>("autosignout.reason", revocation.Reason));
                _logger.RevocationNotified(revocation.Reason, count);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // Duende has already revoked; failing the user's logout or the admin call would not undo it.
                _telemetry.Failures.Add(1);
                _logger.NotificationEnqueueFailed(exception, revocation.Reason);
            }
        }
    }
}
