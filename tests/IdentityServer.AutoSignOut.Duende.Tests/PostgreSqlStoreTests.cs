using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using AutoSignOut.IdentityServer.Tests.Infrastructure;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// Duende's EF operational store and the outbox in one PostgreSQL database (the server named by
/// AUTOSIGNOUT_TEST_POSTGRES; inconclusive without it): a logout at the IdP closes the session's connections.
/// </summary>
[TestClass]
public sealed class PostgreSqlStoreTests
{
    [TestMethod]
    public async Task Logout_closes_the_sessions_connections_with_the_operational_store_and_the_outbox_on_PostgreSQL()
    {
        await using var database = await TestDatabase.PostgresAsync();
        await using var stack = await Stack.StartAsync(database: database.Use);
        await using var alice = await LiveUser.StartAsync(stack, "alice");
        await using var bob = await LiveUser.StartAsync(stack, "bob");

        await alice.User.LogOutAtIdpAsync();

        await alice.AssertSignedOutAsync(RevocationReasons.Logout);
        await bob.AssertStillLiveAsync();
        Assert.IsFalse(await alice.User.IdpCookieAcceptedAsync(), "the IdP session ended");
    }
}
