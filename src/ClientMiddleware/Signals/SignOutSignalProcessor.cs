using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Applies a signal on this node: records the revocation (so the same credentials are refused from now on), then
/// closes every matching live connection. Bus implementations call it for each signal they receive.
/// </summary>
public sealed class SignOutSignalProcessor
{
    private readonly AutoSignOutOptions _options;
    private readonly IRevokedSessionStore _store;
    private readonly LiveConnectionRegistry _registry;
    private readonly AutoSignOutMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;

    internal SignOutSignalProcessor(
        IOptions<AutoSignOutOptions> options,
        IRevokedSessionStore store,
        LiveConnectionRegistry registry,
        AutoSignOutMetrics metrics,
        TimeProvider time,
        IServiceProvider services,
        ILogger<SignOutSignalProcessor> logger)
    {
        _options = options.Value;
        _store = store;
        _registry = registry;
        _metrics = metrics;
        _time = time;
        _services = services;
        _logger = logger;
    }

    /// <summary>Applies <paramref name="signal"/> on this node.</summary>
    /// <param name="signal">The signal.</param>
    /// <param name="cancellationToken">Cancels the client notifications; revocation and aborts happen regardless.</param>
    public async ValueTask ProcessAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var started = _time.GetTimestamp();
        using var activity = AutoSignOutMetrics.ActivitySource.StartActivity("AutoSignOut.Signal");
        activity?.SetTag("autosignout.signal.source", signal.Source);
        Log.SignalDetails(_logger, signal.Issuer, signal.Subject, signal.SessionId, signal.Reason);

        var keys = _options.SignalKeys(signal);
        if (keys.Count == 0)
        {
            return;
        }

        var revokedAt = signal.CreatedAt == default ? _time.GetUtcNow() : signal.CreatedAt;
        await _store.RevokeAsync(signal.Issuer, keys, revokedAt, cancellationToken);
        await _options.Events.SignalAsync(new SignOutSignalContext(signal, _services));

        var matches = _registry.FindMatches(signal.Issuer, keys, revokedAt);
        var closed = 0;
        if (matches.Count > 0)
        {
            Task[]? pending = null;
            for (var i = 0; i < matches.Count; i++)
            {
                var connection = matches[i];
                if (!connection.TryMarkSignedOut())
                {
                    continue;
                }

                closed++;
                var task = CloseAsync(signal, connection, cancellationToken);
                if (!task.IsCompletedSuccessfully)
                {
                    (pending ??= new Task[matches.Count])[i] = task.AsTask();
                }
            }

            if (pending is not null)
            {
                await Task.WhenAll(pending.Where(static t => t is not null));
            }
        }

        var elapsed = _time.GetElapsedTime(started).TotalMilliseconds;
        activity?.SetTag("autosignout.connections.closed", closed);
        _metrics.SignalProcessed(signal.Source, closed, elapsed);
        Log.SignalProcessed(_logger, signal.Source, closed, elapsed);
    }

    private async ValueTask CloseAsync(SignOutSignal signal, LiveConnection connection, CancellationToken cancellationToken)
    {
        try
        {
            Log.ClosingConnection(_logger, connection.Kind, connection.Id);
            await _options.Events.ClosingConnectionAsync(new ClosingConnectionContext(signal, connection));
            await connection.CloseAsync(signal, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.CloseFailed(_logger, e, connection.Kind);
        }
        finally
        {
            _metrics.Closed(connection.Kind);
        }
    }
}
