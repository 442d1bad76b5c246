using Microsoft.Extensions.Time.Testing;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// Waits for a condition that real I/O will make true, optionally moving fake time forward in steps so that timers
/// (retries, leases, circuit breakers) fire without the test sleeping through them.
/// </summary>
internal static class Eventually
{
    public static async Task UntilAsync(Func<bool> condition, string what, FakeTimeProvider? time = null, TimeSpan? step = null, TimeSpan? wallTimeout = null)
    {
        var deadline = DateTime.UtcNow + (wallTimeout ?? TimeSpan.FromSeconds(30));
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting until {what}.");
            }

            time?.Advance(step ?? TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<Task<bool>> condition, string what, FakeTimeProvider? time = null, TimeSpan? step = null, TimeSpan? wallTimeout = null)
        => UntilAsync(() => condition().GetAwaiter().GetResult(), what, time, step, wallTimeout);
}
