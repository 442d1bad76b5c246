using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// The engine's instruments, published under the meter and activity source <c>AutoSignOut.IdentityServer</c>.
/// </summary>
internal sealed class AutoSignOutServerTelemetry : IDisposable
{
    public static readonly ActivitySource ActivitySource = new(AutoSignOutServerDefaults.TelemetryName);

    private readonly Meter _meter;
    private long _depth;
    private double _oldestAgeSeconds;

    public AutoSignOutServerTelemetry(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(AutoSignOutServerDefaults.TelemetryName);
        Enqueued = _meter.CreateCounter<long>("autosignout.server.notifications.enqueued", "{notification}", "Logout notifications written to the outbox.");
        Delivered = _meter.CreateCounter<long>("autosignout.server.notifications.delivered", "{notification}", "Logout notifications accepted by their client.");
        Retried = _meter.CreateCounter<long>("autosignout.server.notifications.retried", "{attempt}", "Failed delivery attempts that will be tried again.");
        DeadLettered = _meter.CreateCounter<long>("autosignout.server.notifications.dead_lettered", "{notification}", "Logout notifications given up after the retry horizon.");
        DeliveryDuration = _meter.CreateHistogram<double>("autosignout.server.delivery.duration", "s", "Time from enqueue to acceptance by the client.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 60, 300, 1800, 3600, 21600] });
        _meter.CreateObservableGauge("autosignout.server.outbox.depth", () => Volatile.Read(ref _depth), "{notification}", "Pending logout notifications in the outbox.");
        _meter.CreateObservableGauge("autosignout.server.outbox.oldest_age", () => Volatile.Read(ref _oldestAgeSeconds), "s", "Age of the oldest pending logout notification.");
    }

    public Counter<long> Enqueued { get; }

    public Counter<long> Delivered { get; }

    public Counter<long> Retried { get; }

    public Counter<long> DeadLettered { get; }

    public Histogram<double> DeliveryDuration { get; }

    public void ObserveOutbox(LogoutOutboxSnapshot snapshot, DateTimeOffset now)
    {
        Volatile.Write(ref _depth, snapshot.PendingCount);
        Volatile.Write(ref _oldestAgeSeconds, snapshot.OldestPendingCreatedAt is { } oldest ? Math.Max(0, (now - oldest).TotalSeconds) : 0);
    }

    public void Dispose() => _meter.Dispose();
}
