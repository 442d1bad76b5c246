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
    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan SnapshotInterval = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan ContendedPause = TimeSpan.FromMilliseconds(50);
    private const int PurgeBatch = 1000;

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
    private readonly Dictionary<string, EndpointSlots> _endpoints = new(StringComparer.Ordinal);
    // The break end each endpoint's backlog was last postponed to, so that it is postponed once per break.
    private readonly Dictionary<string, DateTimeOffset> _postponed = new(StringComparer.Ordinal);
    private int _waiting;
    private SemaphoreSlim? _slots;
    private DateTimeOffset _nextOutboxCheck;

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
        await ReclaimOwnLeasesAsync(options, stoppingToken).ConfigureAwait(false);
        _signal.DispatcherRunning = true;
        _logger.DispatcherStarted(options.InstanceName);
        // Rows left by an earlier run are due now: look at once.
        _nextOutboxCheck = _time.GetUtcNow();
        var housekeeping = Task.Run(() => HousekeepAsync(options, stoppingToken), CancellationToken.None);
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
        await housekeeping.ConfigureAwait(false);
    }

    /// <summary>Rows an earlier run of this instance held when it died are due now, not when their leases end.</summary>
    private async Task ReclaimOwnLeasesAsync(AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        try
        {
            var released = await _outbox.ReleaseLeasesAsync(options.InstanceName, _time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
            if (released > 0)
            {
                _logger.LeasesReclaimed(released, options.InstanceName);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
#pragma warning disable CA1031 // The outbox may be down at start; the leases then simply run out.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.OutboxUnavailable(ex, OutboxErrorDelay);
        }
    }

    /// <summary>
    /// Housekeeping, apart from the delivery loop so that it never holds deliveries up: outbox gauges, and purges of
    /// expired jti index entries and of dead letters past their retention, in small batches.
    /// </summary>
    private async Task HousekeepAsync(AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        var nextPurge = _time.GetUtcNow();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var now = _time.GetUtcNow();
                _telemetry.ObserveOutbox(await _outbox.GetSnapshotAsync(now, stoppingToken).ConfigureAwait(false), now);
                if (_time.GetUtcNow() >= nextPurge)
                {
                    nextPurge = _time.GetUtcNow() + PurgeInterval;
                    if (_services.GetService<IIssuedTokenIndex>() is { } index)
                    {
                        await index.RemoveExpiredAsync(_time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
                    }

                    while (await _outbox.RemoveDeadLetteredAsync(_time.GetUtcNow() - options.DeadLetterRetention, PurgeBatch, stoppingToken).ConfigureAwait(false) == PurgeBatch)
                    {
                        await Task.Yield();
                    }
                }

                await Task.Delay(SnapshotInterval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // Housekeeping tries again later; deliveries go on.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _logger.HousekeepingFailed(ex);
                try
                {
                    await Task.Delay(OutboxErrorDelay, _time, stoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    /// <summary>Starts what is due; returns how long to sleep unless woken (zero: look again at once).</summary>
    private async Task<TimeSpan> DispatchAsync(AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        // Time kept free at the end of every lease: the longest dispatch, clock skew and the outcome write.
        var needed = AutoSignOutServerOptionsValidator.LongestDispatch(options) + options.LeaseSafetyMargin;

        // 1. Notifications this instance just stored, already leased to it: no query needed to find them.
        // While rows already wait for their endpoints, further hand-overs stay in the signal's queue rather than
        // being sent back to the outbox.
        while (_slots!.CurrentCount > 0 && Volatile.Read(ref _waiting) < WaitingCapacity(options) && _signal.TryTakeHandedOver(out var handedOver))
        {
            var now = _time.GetUtcNow();
            if (handedOver.LeaseExpiresAt is not { } leaseEnd || leaseEnd - now <= needed)
            {
                // It waited in memory so long that its lease could run out mid-delivery: leave it to the outbox
                // path, after the lease runs out, so that no other instance can be delivering it at the same time.
                _nextOutboxCheck = Min(_nextOutboxCheck, handedOver.LeaseExpiresAt ?? now);
                continue;
            }

            await StartOrQueueAsync(handedOver, options, stoppingToken).ConfigureAwait(false);
        }

        // 2. The outbox: retries that came due, rows of other instances, rows written by a binding's transaction.
        var (requested, retry) = _signal.TakeOutboxWork();
        var at = _time.GetUtcNow();
        if (requested)
        {
            _nextOutboxCheck = at;
        }

        if (retry is { } retryAt)
        {
            _nextOutboxCheck = Min(_nextOutboxCheck, retryAt);
        }

        if (_nextOutboxCheck > at)
        {
            return Min(_nextOutboxCheck - at, options.PollInterval);
        }

        var free = _slots.CurrentCount;
        var busy = options.MaxConcurrentDeliveries - free;
        if (free == 0 || (busy > 0 && free < Math.Max(1, options.MaxConcurrentDeliveries / 4)) || Volatile.Read(ref _waiting) >= WaitingCapacity(options))
        {
            // Under load, lease in batches rather than one row per finished delivery; a finishing delivery wakes
            // the loop, and the check stays due.
            return options.PollInterval;
        }

        // Never lease more than can start or wait in memory: a leased row that found no room would go back to the
        // outbox for a poll interval, and a backlog to few endpoints would end with a five-second stall.
        var room = Math.Min(free, WaitingCapacity(options) - Volatile.Read(ref _waiting));
        var leasedAt = _time.GetUtcNow();
        var leased = await _outbox.LeaseDueAsync(room, leasedAt, leasedAt + options.LeaseDuration, options.InstanceName, stoppingToken).ConfigureAwait(false);
        foreach (var notification in leased)
        {
            await StartOrQueueAsync(notification, options, stoppingToken).ConfigureAwait(false);
        }

        if (leased.Count == room)
        {
            // There may be more: look again as soon as slots come free.
            return TimeSpan.Zero;
        }

        // The clock is read again after every await: the lease and the query above took time.
        var nextDue = await _outbox.GetNextDueAsync(_time.GetUtcNow(), stoppingToken).ConfigureAwait(false);
        var after = _time.GetUtcNow();
        if (nextDue is { } due && due <= after)
        {
            // Due and unleased, yet another instance took the rows this lease aimed at: look again on the next wake,
            // or after a short pause, without spinning.
            _nextOutboxCheck = after;
            return ContendedPause;
        }

        var nextPoll = after + options.PollInterval;
        _nextOutboxCheck = nextDue is { } later ? Min(later, nextPoll) : nextPoll;
        return Min(_nextOutboxCheck - after, options.PollInterval);
    }

    private static int WaitingCapacity(AutoSignOutServerOptions options) => Math.Max(256, options.MaxConcurrentDeliveries * 4);

    /// <summary>
    /// Starts a delivery unless its endpoint already runs its share of them; then the row waits in memory for the
    /// endpoint (holding no delivery slot), or, when too many wait already, goes back to the outbox for later.
    /// </summary>
    private async Task StartOrQueueAsync(LogoutNotification notification, AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        var key = EndpointRules.Key(notification.Endpoint);
        var circuit = _deliverer.GetCircuitState(key, _time.GetUtcNow(), out var until);
        if (circuit == EndpointCircuitState.Open)
        {
            // The circuit would refuse it: back to the outbox with the endpoint's other rows, due when a probe may go.
            HoldBack(notification, key, until);
            return;
        }

        // While the break is over but the circuit not yet closed, one row probes the endpoint and the others wait.
        var limit = circuit == EndpointCircuitState.Probing ? 1 : options.MaxConcurrentDeliveriesPerEndpoint;
        bool start, giveBack = false;
        lock (_inFlightGate)
        {
            if (!_endpoints.TryGetValue(key, out var endpoint))
            {
                _endpoints[key] = endpoint = new EndpointSlots();
            }

            start = endpoint.Running < limit;
            if (start)
            {
                endpoint.Running++;
            }
            else if (_waiting < WaitingCapacity(options))
            {
                endpoint.Waiting.Enqueue(notification);
                _waiting++;
            }
            else
            {
                giveBack = true;
            }
        }

        if (start)
        {
            await _slots!.WaitAsync(stoppingToken).ConfigureAwait(false);
            Start(notification, key, stoppingToken);
        }
        else if (giveBack)
        {
            await GiveBackAsync(notification, _time.GetUtcNow() + options.PollInterval).ConfigureAwait(false);
        }
        else
        {
            _logger.NotificationQueuedForEndpoint(notification.Id, EndpointRules.Redact(notification.Endpoint));
        }
    }

    /// <summary>
    /// Holds back a row of an endpoint whose circuit is open: it goes back to the outbox due when the break ends,
    /// written together with the endpoint's other rows, and the first row held back for this break postpones the
    /// endpoint's whole backlog in the outbox, so that none of it is leased only to be refused.
    /// </summary>
    private void HoldBack(LogoutNotification notification, string key, DateTimeOffset until)
    {
        bool postpone;
        lock (_inFlightGate)
        {
            postpone = !_postponed.TryGetValue(key, out var done) || done != until;
            if (postpone)
            {
                _postponed[key] = until;
            }
        }

        TrackBackground(_deliverer.DeferForOpenCircuitAsync(notification, until));
        if (postpone)
        {
            var endpoint = notification.Endpoint;
            TrackBackground(Task.Run(async () =>
            {
                try
                {
                    var postponed = await _outbox.PostponeEndpointAsync(endpoint, until, _time.GetUtcNow(), CancellationToken.None).ConfigureAwait(false);
                    _logger.EndpointPostponed(EndpointRules.Redact(endpoint), postponed, until);
                    _signal.RetryAt(until);
                }
#pragma warning disable CA1031 // Without it the rows are leased and held back one by one, as before.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _logger.EndpointPostponeFailed(ex, EndpointRules.Redact(endpoint));
                }
            }));
        }
    }

    /// <summary>Keeps a background write in the in-flight set, so that stopping waits for it.</summary>
    private void TrackBackground(Task task)
    {
        if (task.IsCompleted)
        {
            return;
        }

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
            },
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    /// <summary>Returns a row to the outbox unattempted, due at <paramref name="due"/>.</summary>
    private async Task GiveBackAsync(LogoutNotification notification, DateTimeOffset due)
    {
        notification.NextAttemptAt = due;
        try
        {
            await _outbox.RescheduleAsync(notification, CancellationToken.None).ConfigureAwait(false);
            _signal.RetryAt(due);
        }
#pragma warning disable CA1031 // The lease runs out and the row is delivered later all the same.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.OutcomeNotWritten(ex, notification.Id);
        }
    }

    private async Task ReleaseHandedOverAsync()
    {
        // Hand-overs that never got a slot, and rows waiting for their endpoint, go back to the outbox now rather than
        // when their lease runs out.
        var now = _time.GetUtcNow();
        List<LogoutNotification> waiting;
        lock (_inFlightGate)
        {
            waiting = [.. _endpoints.Values.SelectMany(e => e.Waiting)];
            foreach (var endpoint in _endpoints.Values)
            {
                endpoint.Waiting.Clear();
            }

            _waiting = 0;
        }

        foreach (var notification in waiting)
        {
            await GiveBackAsync(notification, now).ConfigureAwait(false);
        }

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

    private void Start(LogoutNotification notification, string key, CancellationToken stoppingToken)
    {
        var task = Task.Run(() => _deliverer.DeliverAsync(notification, stoppingToken), CancellationToken.None);
        lock (_inFlightGate)
        {
            _inFlight.Add(task);
        }

        _ = task.ContinueWith(
            (t, state) => ((LogoutDispatcher)state!).Finished(t, notification, key, stoppingToken),
            this,
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
    }

    private void Finished(Task delivery, LogoutNotification notification, string key, CancellationToken stoppingToken)
    {
        if (delivery.IsFaulted)
        {
            // Never unobserved: the row's lease runs out and it is tried again, but someone must hear of it.
            _logger.DeliveryFaulted(delivery.Exception!.GetBaseException(), notification.Id);
        }

        var options = _options.CurrentValue;
        var needed = AutoSignOutServerOptionsValidator.LongestDispatch(options) + options.LeaseSafetyMargin;
        LogoutNotification? next = null;
        List<LogoutNotification>? expired = null;
        List<LogoutNotification>? heldBack = null;
        var refill = false;
        var circuit = _deliverer.GetCircuitState(key, _time.GetUtcNow(), out var until);
        lock (_inFlightGate)
        {
            _inFlight.Remove(delivery);
            var endpoint = _endpoints[key];
            endpoint.Running--;
            var now = _time.GetUtcNow();
            if (circuit == EndpointCircuitState.Open)
            {
                // The circuit opened: the rows waiting for this endpoint go back to the outbox together.
                heldBack = [.. endpoint.Waiting];
                refill = _waiting > WaitingCapacity(options) / 2 && _waiting - heldBack.Count <= WaitingCapacity(options) / 2;
                _waiting -= heldBack.Count;
                endpoint.Waiting.Clear();
            }

            // While the circuit is probing, one dispatch at a time.
            while (!stoppingToken.IsCancellationRequested && (circuit != EndpointCircuitState.Probing || endpoint.Running == 0) && endpoint.Waiting.TryDequeue(out var waiting))
            {
                refill |= _waiting-- == WaitingCapacity(options) / 2;
                if (waiting.LeaseExpiresAt is { } leaseEnd && leaseEnd - now > needed)
                {
                    next = waiting;
                    endpoint.Running++;
                    break;
                }

                (expired ??= []).Add(waiting);
            }

            if (endpoint.Running == 0 && endpoint.Waiting.Count == 0)
            {
                _endpoints.Remove(key);
            }
        }

        if (expired is not null)
        {
            var now = _time.GetUtcNow();
            _ = Task.Run(async () =>
            {
                foreach (var row in expired)
                {
                    await GiveBackAsync(row, now).ConfigureAwait(false);
                }
            });
        }

        if (heldBack is { Count: > 0 })
        {
            foreach (var row in heldBack)
            {
                HoldBack(row, key, until);
            }
        }

        if (next is not null)
        {
            // The finished delivery's slot passes straight to the next row of the same endpoint.
            Start(next, key, stoppingToken);
            if (circuit == EndpointCircuitState.Closed)
            {
                // A circuit that just closed after a probe ran one dispatch at a time: back up to the endpoint's limit
                // with whatever slots are free.
                StartMore(key, options, stoppingToken);
            }

            if (refill)
            {
                // The rows waiting in memory fell to half their room: the loop tops them up from the hand-overs and
                // the outbox now, before the endpoints run dry, rather than when the first queue is empty.
                _signal.Wake();
            }

            return;
        }

        _slots!.Release();
        _signal.Wake();
    }

    private void StartMore(string key, AutoSignOutServerOptions options, CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested && _slots!.Wait(0))
        {
            LogoutNotification? next = null;
            lock (_inFlightGate)
            {
                if (_endpoints.TryGetValue(key, out var endpoint) && endpoint.Running < options.MaxConcurrentDeliveriesPerEndpoint && endpoint.Waiting.TryDequeue(out next))
                {
                    _waiting--;
                    endpoint.Running++;
                }
            }

            if (next is null)
            {
                _slots.Release();
                return;
            }

            Start(next, key, stoppingToken);
        }
    }

    /// <summary>An endpoint's deliveries in flight and the rows waiting for one of its slots.</summary>
    private sealed class EndpointSlots
    {
        public int Running;
        public readonly Queue<LogoutNotification> Waiting = new();
    }

    public override void Dispose()
    {
        base.Dispose();
        _slots?.Dispose();
    }
}
