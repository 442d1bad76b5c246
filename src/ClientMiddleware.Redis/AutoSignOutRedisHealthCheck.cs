using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// The Redis link's health: Healthy when connected and current with the stream; Degraded while catching up or while
/// Redis is unavailable after the node was current (it answers from its revoked set meanwhile); Unhealthy while it has
/// never loaded the revoked set (it refuses every credential then, so a load balancer should route elsewhere).
/// </summary>
internal sealed class AutoSignOutRedisHealthCheck(RedisLinkState state) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var data = new Dictionary<string, object>
        {
            ["connected"] = state.IsConnected,
            ["current"] = state.IsCurrent,
            ["behind_ms"] = state.BehindFor.TotalMilliseconds,
            ["pending"] = state.PendingCount,
        };
        var result = state.IsCurrent
            ? HealthCheckResult.Healthy("Current with the sign-out stream.", data)
            : !state.IsLoaded
                ? new HealthCheckResult(context.Registration.FailureStatus, "The revoked set has not been loaded from Redis yet; credentials are refused.", data: data)
                : HealthCheckResult.Degraded(state.IsLinkDown ? "Redis unavailable; answering from this node's revoked set." : "Catching up with the sign-out stream.", data: data);
        return Task.FromResult(result);
    }
}
