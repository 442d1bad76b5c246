using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Reports <see cref="HealthStatus.Degraded"/> when the oldest pending logout notification is older than
/// <see cref="AutoSignOutServerOptions.HealthDegradedAge"/>, and <see cref="HealthStatus.Unhealthy"/> when the outbox
/// cannot be read.
/// </summary>
public sealed class LogoutOutboxHealthCheck : IHealthCheck
{
    private readonly ILogoutOutbox _outbox;
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the check over <paramref name="outbox"/>.</summary>
    /// <param name="outbox">The outbox to inspect.</param>
    /// <param name="options">Supplies the degraded threshold.</param>
    /// <param name="time">The clock.</param>
    public LogoutOutboxHealthCheck(ILogoutOutbox outbox, IOptionsMonitor<AutoSignOutServerOptions> options, TimeProvider time)
    {
        _outbox = outbox;
        _options = options;
        _time = time;
    }

    /// <inheritdoc/>
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        LogoutOutboxSnapshot snapshot;
        var now = _time.GetUtcNow();
        try
        {
            snapshot = await _outbox.GetSnapshotAsync(now, cancellationToken).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // A health check reports failures; it does not throw them.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new HealthCheckResult(context.Registration.FailureStatus, "The logout outbox cannot be read.", ex);
        }

        var age = snapshot.OldestPendingCreatedAt is { } oldest ? now - oldest : TimeSpan.Zero;
        var data = new Dictionary<string, object>
        {
            ["pending"] = snapshot.PendingCount,
            ["oldest_pending_age_seconds"] = age.TotalSeconds,
            ["dead_lettered"] = snapshot.DeadLetteredCount,
        };
        var threshold = _options.CurrentValue.HealthDegradedAge;
        return age > threshold
            ? HealthCheckResult.Degraded($"The oldest pending logout notification is {age} old (threshold {threshold}).", data: data)
            : HealthCheckResult.Healthy($"{snapshot.PendingCount} logout notifications pending.", data);
    }
}
