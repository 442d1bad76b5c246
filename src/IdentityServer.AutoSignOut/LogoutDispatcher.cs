using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// The hosted service that delivers the outbox: woken at once when work is enqueued, by a timer when a retry comes
/// due, and by the poll interval for rows other instances enqueued or abandoned. Deliveries run concurrently, up to
/// <see cref="AutoSignOutServerOptions.MaxConcurrentDeliveries"/>, each under a lease.
/// </summary>
internal sealed class LogoutDispatcher : BackgroundService
{
    private static readonly TimeSpan OutboxErrorDelay = TimeSpan.FromSeconds(1);

    private readonly ILogoutOutbox _outbox;
    private readonly LogoutDeliverer _deliverer;
    private readonly LogoutDispatchSignal _signal;
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;
    private readonly TimeProvider _time;
    private readonly AutoSignOutServerTelemetry _telemetry;
    private readonly IServiceProvider _services;
    private readonly ILogger _logger;
    private readonly Lock _inFlightGate = new();
    private readonly HashSet<Task> _inFlight = [];
    private SemaphoreSlim? _slots;

    public LogoutDispatcher(
        ILogoutOutbox outbox,
        LogoutDeliverer deliverer,
        LogoutDispatchSignal signal,
        IOptionsMonitor<AutoSignOutServerOptions> options,
        TimeProvider time,
        AutoSignOutServerTelemetry telemetry,
        IServiceProvider services,
        ILogger<LogoutDispatcher> logger)
    {
        _outbox = outbox;
        _deliverer = deliverer;
        _signal = signal;
        _options = options;
        _time = time;
        _telemetry = telemetry;
        _services = services;
        _logger = logger;
    }

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        // Fail at start, not at the first revocation, when the configuration-based signer has nothing to sign with.
        if (_services.GetRequiredService<ILogoutSigningCredentialsSource>() is ConfiguredLogoutSigningCredentialsSource configured)
        {
            configured.EnsureConfigured();
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = _options.CurrentValue;
        _slots = new SemaphoreSlim(options.MaxConcurrentDeliveries, options.MaxConcurrentDeliveries);
        _logger.DispatcherStarted(options.InstanceName);
        // Rows left by an earlier run are due now: look at once.
        _signal.Notify();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                try
                {
                    wait = await DispatchDueAsync(options, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
#pragma warning disable CA1031 // A database outage must not end the dispatcher; it retries.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _logger.OutboxUnavailable(ex, OutboxErrorDelay);
                    wait = OutboxErrorDelay;
                }

                if (wait > TimeSpan.Zero)
                {
                    await _signal.WaitAsync(wait, _time, stoppingToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Deliveries in flight see the cancellation and hand their rows back; wait for them to do so.
        Task[] pending;
        lock (_inFlightGate)
        {
            pending = [.. _inFlight];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
    }

    /// <summary>Leases and starts what is due; returns how long to sleep unless woken (zero: look again at once).</summary>
    private async Task<TimeSpan> DispatchDueAsync(AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        var free = _slots!.CurrentCount;
        var now = _time.GetUtcNow();
        var busy = options.MaxConcurrentDeliveries - free;
        if (free == 0 || (busy > 0 && free < Math.Max(1, options.MaxConcurrentDeliveries / 4)))
        {
            // Under load, lease in batches rather than one row per finished delivery; a finishing delivery wakes the
            // loop. An idle dispatcher (nothing busy) leases at once, so the happy path has no added delay.
            return options.PollInterval;
        }

        var leased = await _outbox.LeaseDueAsync(free, now, now + options.LeaseDuration, stoppingToken).ConfigureAwait(false);
        foreach (var notification in leased)
        {
            await _slots.WaitAsync(stoppingToken).ConfigureAwait(false);
            Start(notification, stoppingToken);
        }

        if (leased.Count == free)
        {
            return TimeSpan.Zero;
        }

        var snapshot = await _outbox.GetSnapshotAsync(now, stoppingToken).ConfigureAwait(false);
        _telemetry.ObserveOutbox(snapshot, now);
        if (snapshot.NextDueAt is { } due)
        {
            var untilDue = due - _time.GetUtcNow();
            if (untilDue <= TimeSpan.Zero)
            {
                // Due already but not leased by us: another instance holds it or just took it. Look again soon,
                // without spinning.
                return leased.Count > 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(50);
            }

            return untilDue < options.PollInterval ? untilDue : options.PollInterval;
        }

        return options.PollInterval;
    }

    private void Start(LogoutNotification notification, CancellationToken stoppingToken)
    {
        var task = Task.Run(() => _deliverer.DeliverAsync(notification, stoppingToken), CancellationToken.None);
        lock (_inFlightGate)
        {
            _inFlight.Add(task);
        }

        _ = task.ContinueWith(
            (t, state) =>
            {
                var self = (LogoutDispatcher)state!;
                lock (self._inFlightGate)
                {
                    self._inFlight.Remove(t);
                }

                self._slots!.Release();
                self._signal.Notify();
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    public override void Dispose()
    {
        base.Dispose();
        _slots?.Dispose();
    }
}
