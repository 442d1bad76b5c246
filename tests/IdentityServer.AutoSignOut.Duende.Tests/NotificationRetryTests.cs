using System.Diagnostics.Metrics;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using Duende.IdentityServer.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// Revocations that have happened at IdentityServer must reach their clients even when their notifications cannot be
/// stored at that moment (the outbox briefly unreachable): without the shared transaction Duende's write comes first; at
/// logout and expiry Duende ends the server-side session before anything else, whatever the transaction. The binding
/// stores them again in the background, with growing delays, for <see cref="AutoSignOutDuendeOptions.NotificationRetryWindow"/>.
/// </summary>
[TestClass]
public sealed class NotificationRetryTests
{
    private static Stack _stack = null!;
    private static Stack _transactional = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _stack = await Stack.StartAsync(sharedTransaction: false);
        _transactional = await Stack.StartAsync(sharedTransaction: true);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        await _stack.DisposeAsync();
        await _transactional.DisposeAsync();
    }

    [TestMethod]
    public async Task A_logout_whose_shared_transaction_fails_still_signs_the_user_out_and_notifies_the_clients_later()
    {
        await using var alice = await LiveUser.StartAsync(_transactional, "alice");
        await using var bob = await LiveUser.StartAsync(_transactional, "bob");

        // Duende's ticket store has removed the server-side session before the coordination (and its transaction) runs:
        // a failure there must neither fail the user's logout nor leave the clients untold.
        _transactional.Idp.OutboxWrites.FailAll = true;
        try
        {
            await alice.User.LogOutAtIdpAsync();
            Assert.IsTrue(await alice.Cookie.ClosedWithinAsync(TimeSpan.FromSeconds(2)) is false, "nothing was stored, so nothing was sent yet");
        }
        finally
        {
            _transactional.Idp.OutboxWrites.FailAll = false;
        }

        await alice.AssertSignedOutAsync(RevocationReasons.Logout);
        await bob.AssertStillLiveAsync();
        Assert.IsFalse(await alice.User.IdpCookieAcceptedAsync(), "the IdP session ended");
    }

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
