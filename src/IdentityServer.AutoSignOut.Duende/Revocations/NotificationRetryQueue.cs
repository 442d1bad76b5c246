using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Revocations that IdentityServer has written but whose logout notifications could not be stored at the time (the
/// outbox unreachable): stored again in the background, oldest first, 1 s after the failure and then with doubling
/// delays up to 30 s, until they are stored or <see cref="AutoSignOutDuendeOptions.NotificationRetryWindow"/> has passed
/// since the revocation. Every failure is logged and counted; giving up, a full queue and revocations still waiting when
/// the host stops are logged as errors. At most <see cref="Capacity"/> revocations wait.
/// </summary>
internal sealed class NotificationRetryQueue : BackgroundService
{
    public const int Capacity = 10_000;
    private static readonly TimeSpan FirstDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestDelay = TimeSpan.FromSeconds(30);

    private readonly Channel<Pending> _pending = Channel.CreateBounded<Pending>(new BoundedChannelOptions(Capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });
    private readonly IAutoSignOutServer _server;
    private readonly IOptionsMonitor<AutoSignOutDuendeOptions> _options;
    private readonly DuendeBindingTelemetry _telemetry;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private int _count;

    public NotificationRetryQueue(IAutoSignOutServer server, IOptionsMonitor<AutoSignOutDuendeOptions> options, DuendeBindingTelemetry telemetry, TimeProvider time, ILogger<NotificationRetryQueue> logger)
    {
        _server = server;
        _options = options;
        _telemetry = telemetry;
        _time = time;
        _logger = logger;
    }

    /// <summary>Queues <paramref name="revocation"/>; <see langword="false"/> (logged, counted) when retries are off or the queue is full.</summary>
    public bool TryAdd(Revocation revocation)
    {
        var window = _options.CurrentValue.NotificationRetryWindow;
        if (window <= TimeSpan.Zero)
        {
            return false;
        }

        if (!_pending.Writer.TryWrite(new Pending(revocation, _time.GetUtcNow() + window)))
        {
            _telemetry.Abandoned.Add(1);
            _logger.NotificationRetryQueueFull(revocation.Reason, Capacity);
            return false;
        }

        Interlocked.Increment(ref _count);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _pending.Reader.WaitToReadAsync(stoppingToken).ConfigureAwait(false))
            {
                while (_pending.Reader.TryPeek(out var next))
                {
                    await StoreAsync(next, stoppingToken).ConfigureAwait(false);
                    _pending.Reader.TryRead(out _);
                    Interlocked.Decrement(ref _count);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            var left = Volatile.Read(ref _count);
            if (left > 0)
            {
                _telemetry.Abandoned.Add(left);
                _logger.NotificationRetriesLeftAtStop(left);
            }
        }
    }

    /// <summary>Tries one revocation until it is stored or its window has passed; only the host stopping ends it early.</summary>
    private async Task StoreAsync(Pending pending, CancellationToken stoppingToken)
    {
        var delay = FirstDelay;
        for (var attempt = 1; ; attempt++)
        {
            await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            try
            {
                var count = await _server.RevokeAsync(pending.Revocation, stoppingToken).ConfigureAwait(false);
                _telemetry.Revocations.Add(1, new KeyValuePair<string, object?>("autosignout.reason", pending.Revocation.Reason));
                _logger.NotificationStoredOnRetry(pending.Revocation.Reason, count, attempt);
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
            {
                _telemetry.Failures.Add(1);
                if (_time.GetUtcNow() + delay > pending.GiveUpAt)
                {
                    _telemetry.Abandoned.Add(1);
                    _logger.NotificationRetryAbandoned(exception, pending.Revocation.Reason, attempt);
                    return;
                }

                _logger.NotificationRetryFailed(exception, pending.Revocation.Reason, attempt);
                delay = delay * 2 > LongestDelay ? LongestDelay : delay * 2;
            }
        }
    }

    private readonly record struct Pending(Revocation Revocation, DateTimeOffset GiveUpAt);
}
