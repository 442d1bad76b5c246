using System.Diagnostics.Metrics;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>The Redis link's instruments, on the meter <see cref="AutoSignOutRedisDefaults.TelemetryName"/>.</summary>
internal sealed class RedisMetrics
{
    private static readonly string[] SkipReasonNames = ["malformed", "foreign", "newer_version"];
    private readonly Counter<long> _published;
    private readonly Counter<long> _applied;
    private readonly Counter<long> _skipped;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _dropped;
    private readonly Histogram<double> _lag;

    public RedisMetrics(IMeterFactory meterFactory, RedisLinkState state)
    {
        var meter = meterFactory.Create(AutoSignOutRedisDefaults.TelemetryName);
        _published = meter.CreateCounter<long>("autosignout.redis.signals.published", "{signal}", "Signals this node wrote to the stream.");
        _applied = meter.CreateCounter<long>("autosignout.redis.signals.applied", "{signal}", "Signals of other nodes this node applied from the stream.");
        _skipped = meter.CreateCounter<long>("autosignout.redis.entries.skipped", "{entry}", "Stream entries skipped, by reason (malformed, foreign, newer_version).");
        _failures = meter.CreateCounter<long>("autosignout.redis.failures", "{failure}", "Failed Redis operations, by operation.");
        _dropped = meter.CreateCounter<long>("autosignout.redis.pending.dropped", "{signal}", "Unpublished signals dropped because the pending queue was full.");
        _lag = meter.CreateHistogram<double>(
            "autosignout.redis.signal.lag", "ms", "Time from a signal's entry on the stream (Redis' clock) to its application on this node.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 30000] });
        meter.CreateObservableGauge("autosignout.redis.connected", () => state.IsConnected ? 1 : 0, "{state}", "1 while this node is connected to Redis.");
        meter.CreateObservableGauge("autosignout.redis.current", () => state.IsCurrent ? 1 : 0, "{state}", "1 while this node has applied every entry of the stream.");
        meter.CreateObservableGauge("autosignout.redis.behind", () => state.BehindFor.TotalMilliseconds, "ms", "How long this node has not been known current with the stream (0 when current).");
        meter.CreateObservableGauge("autosignout.redis.pending", () => state.PendingCount, "{signal}", "Signals applied here and waiting for Redis to be published.");
    }

    public void Published() => _published.Add(1);

    public void Applied(double lagMilliseconds)
    {
        _applied.Add(1);
        _lag.Record(Math.Max(0, lagMilliseconds));
    }

    public void Skipped(SkipReason reason) => _skipped.Add(1, new KeyValuePair<string, object?>("reason", SkipReasonNames[(int)reason]));

    public void Failed(string operation) => _failures.Add(1, new KeyValuePair<string, object?>("operation", operation));

    public void Dropped() => _dropped.Add(1);
}
