using System.Diagnostics.Metrics;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>The binding's metrics, on the meter <c>AutoSignOut.IdentityServer.Duende</c>.</summary>
internal sealed class DuendeBindingTelemetry
{
    public const string MeterName = "AutoSignOut.IdentityServer.Duende";

    public DuendeBindingTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        Revocations = meter.CreateCounter<long>("autosignout.duende.revocations", "{revocation}", "Revocations at IdentityServer handed to the engine, by reason.");
        Failures = meter.CreateCounter<long>("autosignout.duende.failures", "{failure}", "Revocations whose notifications could not be stored.");
        IndexedTokens = meter.CreateCounter<long>("autosignout.duende.tokens.indexed", "{token}", "Access tokens recorded in the jti index.");
        Abandoned = meter.CreateCounter<long>("autosignout.duende.revocations.abandoned", "{revocation}", "Revocations whose notifications were given up on: retries exhausted, the retry queue full, or the host stopping.");
    }

    public Counter<long> Revocations { get; }

    public Counter<long> Failures { get; }

    public Counter<long> IndexedTokens { get; }

    public Counter<long> Abandoned { get; }
}
