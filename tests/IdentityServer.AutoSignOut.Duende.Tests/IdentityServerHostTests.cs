using System.Net;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using AutoSignOut.IdentityServerHost;
using IdpBench;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using DemoIdentityServer = AutoSignOut.IdentityServerHost.IdentityServerHost;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// hosts/IdentityServer, the Duende demo IdP, as a newcomer runs it (its own settings, seeded users, sign-in form, logout
/// page), in front of the real hosts/ClientApp: a user signed in on the form and logged out through end-session loses
/// their live bearer connection at once, and another user keeps theirs.
/// </summary>
[TestClass]
public sealed class IdentityServerHostTests
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    [TestMethod]
    public async Task A_user_signed_in_on_the_demo_IdPs_form_and_logged_out_there_loses_their_live_connection_at_once()
    {
        var data = Directory.CreateTempSubdirectory("autosignout-identityserver-host-");
        var idpUrl = $"http://127.0.0.1:{TestIdentityServer.FreePort()}";
        var clientUrl = $"http://127.0.0.1:{TestIdentityServer.FreePort()}";
        var idp = DemoIdentityServer.Create(
            [
                "--environment=Development", $"--urls={idpUrl}", $"--IdentityProvider:Issuer={idpUrl}/", $"--IdentityProvider:ClientApp:BaseUrl={clientUrl}",
                $"--ConnectionStrings:IdentityProvider=Data Source={Path.Combine(data.FullName, "idp.db")}", $"--IdentityProvider:KeysPath={Path.Combine(data.FullName, "keys")}",
                "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Duende=Error",
            ],
            builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        await idp.SeedAsync();
        await idp.StartAsync();
        var client = await ClientAppUnderTest.StartAsync(clientUrl, idpUrl);
        try
        {
            var idpUri = new Uri(idpUrl);
            var redirect = new Uri(new Uri(clientUrl), "/signin-oidc");
            const string scopes = "openid profile offline_access " + DemoIdentityServer.HubScope;
            using var alice = new BenchUserAgent();
            using var bob = new BenchUserAgent();
            await alice.SignInAsync(idpUri, "alice", "alice-password-1");
            await bob.SignInAsync(idpUri, "bob", "bob-password-1");
            var aliceTokens = await alice.GetTokensAsync(idpUri, "client-app", redirect, scopes);
            var bobTokens = await bob.GetTokensAsync(idpUri, "client-app", redirect, scopes);
            Assert.IsNotNull(aliceTokens.SessionId, "the access token names its IdP session");
            await using var aliceConnection = await LiveConnection.StartAsync(clientUrl, o => o.AccessTokenProvider = () => Task.FromResult<string?>(aliceTokens.AccessToken));
            await using var bobConnection = await LiveConnection.StartAsync(clientUrl, o => o.AccessTokenProvider = () => Task.FromResult<string?>(bobTokens.AccessToken));

            // What the client app sends the browser to at "sign out": end-session, then the IdP's logout page.
            var postLogout = new Uri(new Uri(clientUrl), "/signout-callback-oidc");
            using var endSession = await alice.EndSessionAsync(idpUri, aliceTokens.IdentityToken, postLogout);
            Assert.AreEqual(HttpStatusCode.Redirect, endSession.StatusCode);
            using var page = await alice.GetAsync(new Uri(idpUri, endSession.Headers.Location!));
            Assert.AreEqual(HttpStatusCode.Redirect, page.StatusCode, "the logout page signs out at once with a valid id_token_hint");
            Assert.AreEqual(postLogout.AbsoluteUri, page.Headers.Location?.AbsoluteUri);

            Assert.IsTrue(await aliceConnection.ClosedWithinAsync(CloseTimeout), "alice's connection closed");
            Assert.AreEqual(RevocationReasons.Logout, await aliceConnection.SignedOutReasonWithinAsync(CloseTimeout), "the reason reaches the connection");
            Assert.IsTrue(
                await LiveConnection.RefusedAsync(clientUrl, o => o.AccessTokenProvider = () => Task.FromResult<string?>(aliceTokens.AccessToken)),
                "alice's access token is refused afterwards");
            Assert.IsTrue(bobConnection.IsOpen, "bob's connection stays");
        }
        finally
        {
            await client.StopAsync();
            await client.DisposeAsync();
            await idp.StopAsync();
            await idp.DisposeAsync();
            SqliteConnection.ClearAllPools();
            try
            {
                data.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean.
            }
        }
    }
}
