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
    private static readonly TimeSpan IndexPurgeInterval = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan ContendedPause = TimeSpan.FromMilliseconds(50);

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
    private DateTimeOffset _nextOutboxCheck;
    private DateTimeOffset _nextIndexPurge;

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
        _signal.HandOverCapacity = Math.Max(options.MaxConcurrentDeliveries * 16, 1024);
        _signal.DispatcherRunning = true;
        _logger.DispatcherStarted(options.InstanceName);
        // Rows left by an earlier run are due now: look at once.
        _nextOutboxCheck = _time.GetUtcNow();
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                try
                {
                    wait = await DispatchAsync(options, stoppingToken).ConfigureAwait(false);
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
                    _nextOutboxCheck = _time.GetUtcNow() + OutboxErrorDelay;
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

        _signal.DispatcherRunning = false;

        // Deliveries in flight see the cancellation and hand their rows back; wait for them to do so.
        Task[] pending;
        lock (_inFlightGate)
        {
            pending = [.. _inFlight];
        }

        await Task.WhenAll(pending).ConfigureAwait(false);
        await ReleaseHandedOverAsync().ConfigureAwait(false);
    }

    /// <summary>Starts what is due; returns how long to sleep unless woken (zero: look again at once).</summary>
    private async Task<TimeSpan> DispatchAsync(AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        var now = _time.GetUtcNow();
        var longestDispatch = AutoSignOutServerOptionsValidator.LongestDispatch(options);
        if (now >= _nextIndexPurge)
        {
            _nextIndexPurge = now + IndexPurgeInterval;
            if (_services.GetService<IIssuedTokenIndex>() is { } index)
            {
                await index.RemoveExpiredAsync(now, stoppingToken).ConfigureAwait(false);
            }
        }

        // 1. Notifications this instance just stored, already leased to it: no query needed to find them.
        while (_slots!.CurrentCount > 0 && _signal.TryTakeHandedOver(out var handedOver))
        {
            if (handedOver.LeaseExpiresAt is not { } leaseEnd || leaseEnd - now <= longestDispatch)
            {
                // It waited in memory so long that its lease could run out mid-delivery: leave it to the outbox
                // path, after the lease runs out, so that no other instance can be delivering it at the same time.
                _nextOutboxCheck = Min(_nextOutboxCheck, handedOver.LeaseExpiresAt ?? now);
                continue;
            }

            await _slots.WaitAsync(stoppingToken).ConfigureAwait(false);
            Start(handedOver, stoppingToken);
        }

        // 2. The outbox: retries that came due, rows of other instances, rows written by a binding's transaction.
        var (requested, retry) = _signal.TakeOutboxWork();
        if (requested)
        {
            _nextOutboxCheck = now;
        }

        if (retry is { } retryAt)
        {
            _nextOutboxCheck = Min(_nextOutboxCheck, retryAt);
        }

        if (_nextOutboxCheck > now)
        {
            return Min(_nextOutboxCheck - now, options.PollInterval);
        }

        var free = _slots.CurrentCount;
        var busy = options.MaxConcurrentDeliveries - free;
        if (free == 0 || (busy > 0 && free < Math.Max(1, options.MaxConcurrentDeliveries / 4)))
        {
            // Under load, lease in batches rather than one row per finished delivery; a finishing delivery wakes
            // the loop, and the check stays due.
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
            // There may be more: look again as soon as slots come free.
            return TimeSpan.Zero;
        }

        var snapshot = await _outbox.GetSnapshotAsync(now, stoppingToken).ConfigureAwait(false);
        _telemetry.ObserveOutbox(snapshot, now);
        if (snapshot.NextDueAt is { } due && due <= now)
        {
            // Due and unleased, yet another instance took the rows this lease aimed at: look again on the next wake,
            // or after a short pause, without spinning.
            _nextOutboxCheck = now;
            return ContendedPause;
        }

        var nextPoll = now + options.PollInterval;
        _nextOutboxCheck = snapshot.NextDueAt is { } later ? Min(later, nextPoll) : nextPoll;
        return Min(_nextOutboxCheck - now, options.PollInterval);
    }

    private async Task ReleaseHandedOverAsync()
    {
        // Hand-overs that never got a slot go back to the outbox now rather than when their lease runs out.
        var now = _time.GetUtcNow();
        while (_signal.TryTakeHandedOver(out var notification))
        {
            notification.NextAttemptAt = now;
            try
            {
                await _outbox.RescheduleAsync(notification, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Stopping: the lease runs out and the row is delivered later all the same.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.OutcomeNotWritten(ex, notification.Id);
            }
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

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
                self._signal.Wake();
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
