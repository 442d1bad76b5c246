namespace AutoSignOut.IdentityServer;

/// <summary>
/// The durable retry schedule: exponential backoff with jitter, capped, and cut off at the retry horizon.
/// </summary>
internal static class RetrySchedule
{
    /// <summary>
    /// Returns when a notification that failed <paramref name="failedDispatches"/> times should be tried next, or
    /// <see langword="null"/> when its retry horizon has passed and it should be dead-lettered.
    /// Never sooner than <paramref name="notBefore"/> from now (a client's <c>Retry-After</c>, an open circuit's
    /// remaining break).
    /// </summary>
    public static DateTimeOffset? NextAttempt(AutoSignOutServerOptions options, DateTimeOffset createdAt, int failedDispatches, DateTimeOffset now, double random, TimeSpan? notBefore = null)
    {
        var horizon = createdAt + options.RetryHorizon;
        if (now >= horizon)
        {
            return null;
        }

        var exponent = Math.Clamp(failedDispatches - 1, 0, 30);
        var ceiling = Math.Min(options.MaxRetryDelay.TotalMilliseconds, options.InitialRetryDelay.TotalMilliseconds * Math.Pow(2, exponent));
        // "Equal jitter": half of the delay is fixed, half random, so instances that failed together spread out
        // without any retry coming much sooner than the backoff intends.
        var delay = TimeSpan.FromMilliseconds((ceiling / 2) + (ceiling / 2 * random));
        if (notBefore is { } wait && wait > delay)
        {
            delay = wait;
        }

        var next = now + delay;
        // One last try exactly at the horizon rather than none at all past it.
        return next < horizon ? next : horizon;
    }
}
