using AutoSignOut.IdentityServer.OpenIddict.Tests.Infrastructure;

namespace AutoSignOut.IdentityServer.OpenIddict.Tests;

/// <summary>An IdP session that idles past its timeout ends by itself, and its clients' connections close.</summary>
[TestClass]
public sealed class SessionExpiryTests
{
    [TestMethod]
    public async Task An_idle_idp_session_expires_and_its_connections_close()
    {
        await using var stack = await Stack.StartAsync(o =>
        {
            o.SessionIdleTimeout = TimeSpan.FromSeconds(4);
            o.SessionExpirationScanInterval = TimeSpan.FromMilliseconds(250);
        });
        await using var alice = await LiveUser.StartAsync(stack, "alice");

        // Nothing touches the IdP session from here: the client's live connections do not count as IdP activity.
        await alice.AssertSignedOutAsync(RevocationReasons.SessionEnded);
        Assert.IsFalse(await alice.User.IdpCookieAcceptedAsync(), "the expired session's IdP cookie is refused");
    }
}
