namespace AutoSignOut.IdentityServer.Tests;

[TestClass]
public sealed class RetryScheduleTests
{
    private static readonly DateTimeOffset Created = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    [TestMethod]
    public void Delay_doubles_per_failed_dispatch_with_equal_jitter_and_stops_growing_at_the_cap()
    {
        var options = new AutoSignOutServerOptions { InitialRetryDelay = TimeSpan.FromSeconds(5), MaxRetryDelay = TimeSpan.FromMinutes(15) };
        var now = Created.AddMinutes(1);

        TimeSpan Delay(int failures, double random) => RetrySchedule.NextAttempt(options, Created, failures, now, random)!.Value - now;

        Assert.AreEqual(TimeSpan.FromSeconds(2.5), Delay(1, 0));
        Assert.AreEqual(TimeSpan.FromSeconds(5), Delay(1, 1));
        Assert.AreEqual(TimeSpan.FromSeconds(10), Delay(2, 1));
        Assert.AreEqual(TimeSpan.FromSeconds(20), Delay(3, 1));
        Assert.AreEqual(TimeSpan.FromSeconds(15), Delay(3, 0.5));
        Assert.AreEqual(TimeSpan.FromMinutes(15), Delay(20, 1));
        Assert.AreEqual(TimeSpan.FromMinutes(7.5), Delay(1000, 0));
    }

    [TestMethod]
    public void Last_attempt_falls_on_the_horizon_and_nothing_is_scheduled_past_it()
    {
        var options = new AutoSignOutServerOptions { RetryHorizon = TimeSpan.FromHours(24) };

        var nearTheEnd = RetrySchedule.NextAttempt(options, Created, 30, Created.AddHours(24).AddSeconds(-10), 1);
        var atTheEnd = RetrySchedule.NextAttempt(options, Created, 31, Created.AddHours(24), 1);

        Assert.AreEqual(Created.AddHours(24), nearTheEnd);
        Assert.IsNull(atTheEnd);
    }

    [TestMethod]
    public void Default_horizon_is_measured_in_hours()
    {
        Assert.IsGreaterThanOrEqualTo(TimeSpan.FromHours(1), new AutoSignOutServerOptions().RetryHorizon);
    }
}
