using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Applies a signal on this node: records the revocation (so the same credentials are refused from now on), closes
/// every matching live connection, then runs the app's <c>OnSignal</c> hook. A failing hook never stops a close; a
/// failing store does not either, but makes <see cref="ProcessAsync"/> throw once the connections are closed, so the
/// sender (the back-channel endpoint) does not report a sign-out that will not be enforced. Bus implementations call it
/// for each signal they receive.
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
    /// <exception cref="Exception">The revoked-session store failed; the matching connections were closed regardless.</exception>
    public async ValueTask ProcessAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var source = SignOutSignalSources.IsKnown(signal.Source) ? signal.Source : SignOutSignalSources.Other;
        var started = _time.GetTimestamp();
        using var activity = AutoSignOutMetrics.ActivitySource.StartActivity("AutoSignOut.Signal");
        activity?.SetTag("autosignout.signal.source", source);
        Log.SignalDetails(_logger, signal.Issuer, signal.Subject, signal.SessionId, signal.Reason);

        var keys = _options.SignalKeys(signal);
        if (keys.Count == 0)
        {
            return;
        }

        var revokedAt = RevocationTimeOf(signal);
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? storeFailure = null;
        try
        {
            await _store.RevokeAsync(signal.Issuer, keys, revokedAt, cancellationToken);
        }
        catch (Exception e)
        {
            // The live connections are closed regardless; the failure is rethrown at the end.
            Log.StoreFailed(_logger, e);
            storeFailure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }

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

        try
        {
            await _options.Events.SignalAsync(new SignOutSignalContext(signal, _services));
        }
        catch (Exception e)
        {
            Log.HookFailed(_logger, e, nameof(AutoSignOutEvents.OnSignal));
        }

        var elapsed = _time.GetElapsedTime(started).TotalMilliseconds;
        activity?.SetTag("autosignout.connections.closed", closed);
        _metrics.SignalProcessed(source, closed, elapsed);
        Log.SignalProcessed(_logger, source, closed, elapsed);
        storeFailure?.Throw();
    }

    /// <summary>
    /// Records <paramref name="signal"/>'s revocation on this node without closing connections or running hooks: for a
    /// bus that loads, at start, signals raised before this node ran (it has no connections yet, and their hooks ran
    /// where they were applied).
    /// </summary>
    /// <param name="signal">The signal.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    public ValueTask RecordAsync(SignOutSignal signal, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var keys = _options.SignalKeys(signal);
        return keys.Count == 0 ? ValueTask.CompletedTask : _store.RevokeAsync(signal.Issuer, keys, RevocationTimeOf(signal), cancellationToken);
    }

    /// <summary>
    /// The revocation's two bounds. On this node's clock: the signal's time, never later than now (a future time would
    /// lock sessions out until it passes). On the provider's clock: the logout token's <c>iat</c>; for a signal without
    /// one, the local time plus the clock skew, the margin for comparing two clocks.
    /// </summary>
    private RevocationTime RevocationTimeOf(SignOutSignal signal)
    {
        var now = _time.GetUtcNow();
        var local = signal.CreatedAt == default || signal.CreatedAt > now ? now : signal.CreatedAt;
        var provider = signal.Issuer is not null && signal.ProviderIssuedAt is { } issued
            ? issued
            : (local.UtcTicks > DateTimeOffset.MaxValue.UtcTicks - _options.ClockSkew.Ticks ? DateTimeOffset.MaxValue : local + _options.ClockSkew);
        return new RevocationTime(local, provider);
    }

    private async ValueTask CloseAsync(SignOutSignal signal, LiveConnection connection, CancellationToken cancellationToken)
    {
        Log.ClosingConnection(_logger, connection.Kind, connection.Id);
        try
        {
            await _options.Events.ClosingConnectionAsync(new ClosingConnectionContext(signal, connection));
        }
        catch (Exception e)
        {
            Log.HookFailed(_logger, e, nameof(AutoSignOutEvents.OnClosingConnection));
        }

        try
        {
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
