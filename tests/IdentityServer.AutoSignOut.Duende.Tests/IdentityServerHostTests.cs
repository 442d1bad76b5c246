using System.Net;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using AutoSignOut.IdentityServerHost;
using IdpBench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Identity;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using DemoIdentityServer = AutoSignOut.IdentityServerHost.IdentityServerHost;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// hosts/IdentityServer, the Duende demo IdP, as a newcomer runs it (its own settings, seeded users, sign-in form, logout
/// page, account and admin pages), in front of the real hosts/ClientApp: what a user or an admin does on its pages closes
/// exactly the right live connections at once. Each test starts its own IdP, so a changed password stays in its test.
/// </summary>
[TestClass]
public sealed class IdentityServerHostTests
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);
    private const string Scopes = "openid profile offline_access " + DemoIdentityServer.HubScope;

    [TestMethod]
    public async Task A_user_signed_in_on_the_demo_IdPs_form_and_logged_out_there_loses_their_live_connection_at_once()
    {
        await using var host = await DemoHost.StartAsync();
        await using var alice = await host.SignInAsync("alice", "alice-password-1");
        await using var bob = await host.SignInAsync("bob", "bob-password-1");

        // What the client app sends the browser to at "sign out": end-session, then the IdP's logout page.
        var postLogout = new Uri(host.Client, "/signout-callback-oidc");
        using var endSession = await alice.Agent.EndSessionAsync(host.Idp, alice.Tokens.IdentityToken, postLogout);
        Assert.AreEqual(HttpStatusCode.Redirect, endSession.StatusCode);
        using var page = await alice.Agent.GetAsync(new Uri(host.Idp, endSession.Headers.Location!));
        Assert.AreEqual(HttpStatusCode.Redirect, page.StatusCode, "the logout page signs out at once with a valid id_token_hint");
        Assert.AreEqual(postLogout.AbsoluteUri, page.Headers.Location?.AbsoluteUri);

        await alice.AssertSignedOutAsync(host, RevocationReasons.Logout);
        Assert.IsTrue(bob.Connection.IsOpen, "bob's connection stays");
    }

    [TestMethod]
    public async Task Changing_the_password_on_the_account_page_closes_every_session_of_the_user_and_no_one_elses()
    {
        await using var host = await DemoHost.StartAsync();
        await using var aliceHere = await host.SignInAsync("alice", "alice-password-1");
        await using var aliceElsewhere = await host.SignInAsync("alice", "alice-password-1");
        await using var bob = await host.SignInAsync("bob", "bob-password-1");
        Assert.AreNotEqual(aliceHere.Tokens.SessionId, aliceElsewhere.Tokens.SessionId, "two IdP sessions");

        using var changed = await aliceHere.Agent.SubmitFormAsync(
            new Uri(host.Idp, "/account"),
            new Uri(host.Idp, "/account/change-password"),
            new Dictionary<string, string> { ["currentPassword"] = "alice-password-1", ["newPassword"] = "alice-password-2!", ["confirmPassword"] = "alice-password-2!" });
        Assert.AreEqual(HttpStatusCode.Redirect, changed.StatusCode, "the form was accepted");

        await aliceHere.AssertSignedOutAsync(host, RevocationReasons.PasswordChanged);
        await aliceElsewhere.AssertSignedOutAsync(host, RevocationReasons.PasswordChanged);
        Assert.IsTrue(bob.Connection.IsOpen, "bob's connection stays");
    }

    [TestMethod]
    public async Task Ending_a_users_sessions_on_the_admin_page_closes_their_connections_and_no_one_elses()
    {
        await using var host = await DemoHost.StartAsync();
        await using var alice = await host.SignInAsync("alice", "alice-password-1");
        await using var bob = await host.SignInAsync("bob", "bob-password-1");
        using var admin = new BenchUserAgent();
        await admin.SignInAsync(host.Idp, "admin", "admin-password-1");
        var bobId = await host.UserIdAsync("bob");

        using var ended = await admin.SubmitFormAsync(new Uri(host.Idp, "/admin"), new Uri(host.Idp, $"/admin/users/{bobId}/end-sessions"), new Dictionary<string, string>());
        Assert.IsLessThan(400, (int)ended.StatusCode, $"the admin form was accepted: {(int)ended.StatusCode}");

        await bob.AssertSignedOutAsync(host, RevocationReasons.AdminRevoked);
        Assert.IsTrue(alice.Connection.IsOpen, "alice's connection stays");
    }

    /// <summary>hosts/IdentityServer and hosts/ClientApp on loopback ports, the IdP's data in a folder of its own.</summary>
    private sealed class DemoHost : IAsyncDisposable
    {
        private readonly DirectoryInfo _data;
        private readonly WebApplication _idp;
        private readonly WebApplication _client;

        private DemoHost(DirectoryInfo data, WebApplication idp, WebApplication client, Uri idpAddress, Uri clientAddress)
        {
            _data = data;
            _idp = idp;
            _client = client;
            Idp = idpAddress;
            Client = clientAddress;
        }

        public Uri Idp { get; }

        public Uri Client { get; }

        public static async Task<DemoHost> StartAsync()
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
            return new DemoHost(data, idp, client, new Uri(idpUrl), new Uri(clientUrl));
        }

        /// <summary>A new IdP session of <paramref name="user"/>, signed in on the form, with a live bearer hub connection.</summary>
        public async Task<SignedInUser> SignInAsync(string user, string password)
        {
            var agent = new BenchUserAgent();
            await agent.SignInAsync(Idp, user, password);
            var tokens = await agent.GetTokensAsync(Idp, "client-app", new Uri(Client, "/signin-oidc"), Scopes);
            Assert.IsNotNull(tokens.SessionId, "the access token names its IdP session");
            var connection = await LiveConnection.StartAsync(Client.AbsoluteUri.TrimEnd('/'), o => o.AccessTokenProvider = () => Task.FromResult<string?>(tokens.AccessToken));
            return new SignedInUser(agent, tokens, connection);
        }

        public async Task<string> UserIdAsync(string userName)
        {
            await using var scope = _idp.Services.CreateAsyncScope();
            return (await scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>().FindByNameAsync(userName))!.Id;
        }

        public async ValueTask DisposeAsync()
        {
            await _client.StopAsync();
            await _client.DisposeAsync();
            await _idp.StopAsync();
            await _idp.DisposeAsync();
            SqliteConnection.ClearAllPools();
            try
            {
                _data.Delete(recursive: true);
            }
            catch (IOException)
            {
                // Left for the OS to clean.
            }
        }
    }

    /// <summary>A browser stand-in's IdP session, its tokens for the client app, and a live bearer hub connection.</summary>
    private sealed record SignedInUser(BenchUserAgent Agent, Tokens Tokens, LiveConnection Connection) : IAsyncDisposable
    {
        public async Task AssertSignedOutAsync(DemoHost host, string reason)
        {
            Assert.IsTrue(await Connection.ClosedWithinAsync(CloseTimeout), "the connection closed");
            Assert.AreEqual(reason, await Connection.SignedOutReasonWithinAsync(CloseTimeout), "the reason reaches the connection");
            Assert.IsTrue(
                await LiveConnection.RefusedAsync(host.Client.AbsoluteUri.TrimEnd('/'), o => o.AccessTokenProvider = () => Task.FromResult<string?>(Tokens.AccessToken)),
                "the access token is refused afterwards");
        }

        public async ValueTask DisposeAsync()
        {
            await Connection.DisposeAsync();
            Agent.Dispose();
        }
    }
}
