using System.Diagnostics.Metrics;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>The binding's metrics, on the meter <c>AutoSignOut.IdentityServer.OpenIddict</c>.</summary>
internal sealed class OpenIddictBindingTelemetry
{
    public const string MeterName = "AutoSignOut.IdentityServer.OpenIddict";

    public OpenIddictBindingTelemetry(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        SessionsStarted = meter.CreateCounter<long>("autosignout.openiddict.sessions.started", "{session}", "IdP login sessions started.");
        SessionsEnded = meter.CreateCounter<long>("autosignout.openiddict.sessions.ended", "{session}", "IdP login sessions ended, by reason.");
        Revocations = meter.CreateCounter<long>("autosignout.openiddict.revocations", "{revocation}", "Revocations at the IdP handed to the engine, by reason.");
        Failures = meter.CreateCounter<long>("autosignout.openiddict.failures", "{failure}", "Failures of the binding's background and notification work, by stage.");
    }

    public Counter<long> SessionsStarted { get; }

    public Counter<long> SessionsEnded { get; }

    public Counter<long> Revocations { get; }

    public Counter<long> Failures { get; }
}
