using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// AutoSignOut's instruments, on the meter <see cref="AutoSignOutDefaults.TelemetryName"/>; OpenTelemetry picks them
/// up with <c>AddMeter("AutoSignOut.AspNetCore")</c>.
/// </summary>
internal sealed class AutoSignOutMetrics
{
    public static readonly ActivitySource ActivitySource = new(AutoSignOutDefaults.TelemetryName);

    private readonly Counter<long> _received;
    private readonly Counter<long> _accepted;
    private readonly Counter<long> _rejected;
    private readonly Counter<long> _signals;
    private readonly Counter<long> _closed;
    private readonly Counter<long> _refused;
    private readonly Histogram<double> _closeDuration;

    public AutoSignOutMetrics(IMeterFactory meterFactory, LiveConnectionRegistry registry)
    {
        var meter = meterFactory.Create(AutoSignOutDefaults.TelemetryName);
        _received = meter.CreateCounter<long>("autosignout.logout_tokens.received", "{token}", "Back-channel logout requests received.");
        _accepted = meter.CreateCounter<long>("autosignout.logout_tokens.accepted", "{token}", "Logout tokens that passed validation.");
        _rejected = meter.CreateCounter<long>("autosignout.logout_tokens.rejected", "{token}", "Back-channel logout requests refused, by reason.");
        _signals = meter.CreateCounter<long>("autosignout.signals", "{signal}", "Sign-out signals processed on this node, by source.");
        _closed = meter.CreateCounter<long>("autosignout.connections.closed", "{connection}", "Live connections closed by a signal, by kind.");
        _refused = meter.CreateCounter<long>("autosignout.credentials.refused", "{request}", "Requests, hub connections and invocations refused for a revoked session, by where.");
        _closeDuration = meter.CreateHistogram<double>(
            "autosignout.signal.duration", "ms", "Time from a signal being raised to all of its connections on this node being closed.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000] });
        meter.CreateObservableGauge("autosignout.connections.live", () => registry.Count, "{connection}", "Live connections registered on this node.");
    }

    public void Received() => _received.Add(1);

    public void Accepted() => _accepted.Add(1);

    public void Rejected(LogoutTokenRejectionReason reason) => _rejected.Add(1, new KeyValuePair<string, object?>("reason", ReasonNames[(int)reason]));

    public void SignalProcessed(string source, int closed, double milliseconds)
    {
        var tag = new KeyValuePair<string, object?>("source", source);
        _signals.Add(1, tag);
        _closeDuration.Record(milliseconds, tag);
    }

    public void Closed(string kind) => _closed.Add(1, new KeyValuePair<string, object?>("kind", kind));

    public void Refused(string where) => _refused.Add(1, new KeyValuePair<string, object?>("where", where));

    private static readonly string[] ReasonNames = [.. Enum.GetNames<LogoutTokenRejectionReason>().Select(ToSnakeCase)];

    private static string ToSnakeCase(string name) =>
        string.Concat(name.Select((c, i) => char.IsUpper(c) && i > 0 ? "_" + char.ToLowerInvariant(c) : char.ToLowerInvariant(c).ToString()));
}
