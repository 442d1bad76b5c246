using System.Diagnostics.Metrics;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using Duende.IdentityServer.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// Without the shared transaction, Duende's revocation is written before its notifications are stored: when storing them
/// fails (the outbox briefly unreachable), the revocation has happened and must still reach its clients. The binding
/// stores them again in the background, with growing delays, for <see cref="AutoSignOutDuendeOptions.NotificationRetryWindow"/>.
/// </summary>
[TestClass]
public sealed class NotificationRetryTests
{
    private static Stack _stack = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) => _stack = await Stack.StartAsync(sharedTransaction: false);

    [ClassCleanup]
    public static async Task StopAsync() => await _stack.DisposeAsync();

    [TestMethod]
    public async Task Notifications_that_could_not_be_stored_when_the_grants_were_removed_are_stored_later_and_delivered()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        using var failures = new MetricCollector<long>(_stack.Idp.Services.GetRequiredService<IMeterFactory>(), "AutoSignOut.IdentityServer.Duende", "autosignout.duende.failures");

        // The outbox is unreachable while the admin call runs: Duende removes the grants, the notifications fail.
        _stack.Idp.OutboxWrites.FailAll = true;
        try
        {
            await _stack.Idp.InScopeAsync(async s =>
            {
                await s.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(alice.User.Name);
                return 0;
            });
            Assert.IsGreaterThanOrEqualTo(1, failures.GetMeasurementSnapshot().Sum(m => m.Value), "the failed write was counted");
            Assert.IsTrue(await alice.Cookie.ClosedWithinAsync(TimeSpan.FromSeconds(2)) is false, "nothing was stored, so nothing was sent yet");
        }
        finally
        {
            _stack.Idp.OutboxWrites.FailAll = false;
        }

        // Back: the background retry stores them, and the engine delivers.
        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
        await bob.AssertStillLiveAsync();
    }
}
