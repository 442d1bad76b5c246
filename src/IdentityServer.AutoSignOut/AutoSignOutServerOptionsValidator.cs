using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Checks the settings that data annotations cannot express; run when the host starts.
/// </summary>
internal sealed class AutoSignOutServerOptionsValidator : IValidateOptions<AutoSignOutServerOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutServerOptions options)
    {
        var failures = new List<string>();
        if (options.LogoutTokenLifetime <= TimeSpan.Zero || options.LogoutTokenLifetime > AutoSignOutServerDefaults.LogoutTokenLifetime)
        {
            failures.Add($"{nameof(options.LogoutTokenLifetime)} must be positive and at most 2 minutes (was {options.LogoutTokenLifetime}).");
        }

        RequirePositive(failures, nameof(options.AttemptTimeout), options.AttemptTimeout);
        RequirePositive(failures, nameof(options.RetryHorizon), options.RetryHorizon);
        RequirePositive(failures, nameof(options.InitialRetryDelay), options.InitialRetryDelay);
        RequirePositive(failures, nameof(options.ImmediateRetryDelay), options.ImmediateRetryDelay);
        RequirePositive(failures, nameof(options.PollInterval), options.PollInterval);
        RequirePositive(failures, nameof(options.HealthDegradedAge), options.HealthDegradedAge);
        RequirePositive(failures, nameof(options.DeadLetterRetention), options.DeadLetterRetention);
        if (options.LeaseSafetyMargin < TimeSpan.Zero)
        {
            failures.Add($"{nameof(options.LeaseSafetyMargin)} must not be negative (was {options.LeaseSafetyMargin}).");
        }
        if (options.MaxRetryDelay < options.InitialRetryDelay)
        {
            failures.Add($"{nameof(options.MaxRetryDelay)} must not be shorter than {nameof(options.InitialRetryDelay)}.");
        }

        if (options.CircuitBreakerSamplingDuration < TimeSpan.FromMilliseconds(500))
        {
            failures.Add($"{nameof(options.CircuitBreakerSamplingDuration)} must be at least 500 milliseconds.");
        }

        if (options.CircuitBreakerBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            failures.Add($"{nameof(options.CircuitBreakerBreakDuration)} must be at least 500 milliseconds.");
        }

        // A lease must outlive the longest dispatch, or another instance could take the row while it is in flight.
        // The margin covers clock skew between instances and the outcome write after the last attempt.
        var longestDispatch = LongestDispatch(options);
        if (options.LeaseDuration <= longestDispatch + options.LeaseSafetyMargin)
        {
            failures.Add($"{nameof(options.LeaseDuration)} ({options.LeaseDuration}) must exceed the longest dispatch ({longestDispatch}: attempt timeout times attempts plus quick-retry delays) plus {nameof(options.LeaseSafetyMargin)} ({options.LeaseSafetyMargin}).");
        }

        if (string.IsNullOrWhiteSpace(options.InstanceName))
        {
            failures.Add($"{nameof(options.InstanceName)} must not be empty.");
        }

        foreach (var client in options.Clients)
        {
            if (string.IsNullOrEmpty(client.ClientId) || !EndpointRules.IsHttp(client.BackChannelLogoutUri))
            {
                failures.Add($"Client '{client.ClientId}' needs a client id and an absolute http(s) back-channel logout URI.");
            }
            else if (client.ClientId.Length > LogoutNotification.MaxClientIdLength || client.BackChannelLogoutUri.AbsoluteUri.Length > LogoutNotification.MaxEndpointLength)
            {
                failures.Add($"Client '{client.ClientId[..Math.Min(40, client.ClientId.Length)]}': the client id must be at most {LogoutNotification.MaxClientIdLength} characters and the URI at most {LogoutNotification.MaxEndpointLength}.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// The longest one dispatch can hold a lease: every attempt timing out, plus the quick-retry delays at their
    /// largest (jitter can double an exponential delay).
    /// </summary>
    public static TimeSpan LongestDispatch(AutoSignOutServerOptions options)
        => (options.AttemptTimeout * (options.ImmediateRetries + 1))
            + (options.ImmediateRetryDelay * ((1 << Math.Clamp(options.ImmediateRetries, 0, 10)) - 1) * 2);

    private static void RequirePositive(List<string> failures, string name, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            failures.Add($"{name} must be positive (was {value}).");
        }
    }
}
