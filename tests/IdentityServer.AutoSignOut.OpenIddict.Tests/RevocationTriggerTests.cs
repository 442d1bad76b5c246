using System.Net;
using System.Text.Json;
using AutoSignOut.IdentityServer.OpenIddict.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using OpenIddict.Abstractions;

namespace AutoSignOut.IdentityServer.OpenIddict.Tests;

/// <summary>
/// Every revocation path of an OpenIddict IdP with the binding, end to end: the real code flow into hosts/ClientApp,
/// live SignalR connections with the cookie and with a bearer token, a trigger at the IdP, and the client app closing
/// exactly that session's connections and refusing its credentials afterwards.
/// </summary>
[TestClass]
public sealed class RevocationTriggerTests
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);
    private static Stack _stack = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) => _stack = await Stack.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _stack.DisposeAsync();

    [TestMethod]
    public async Task Logout_at_the_idp_closes_the_sessions_connections_and_refuses_its_credentials()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        var before = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().GetSessionsAsync(alice.User.Name));
        Assert.AreEqual(1, before.Count, "one IdP session");
        CollectionAssert.AreEqual(new[] { TestIdentityProvider.ClientId }, before[0].Clients.Select(c => c.ClientId).Distinct().ToArray(), "the client took part in it (twice: the app's sign-in and its own code flow)");

        await alice.User.LogOutAtIdpAsync();

        var after = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().GetSessionsAsync(alice.User.Name));
        Assert.AreEqual(0, after.Count, "the IdP session ended");
        await alice.AssertSignedOutAsync("logout");
        await bob.AssertStillLiveAsync();
        Assert.IsFalse(await alice.User.IdpCookieAcceptedAsync(), "the IdP session cookie is signed out");
        using var refresh = await alice.User.TryRefreshAsync(alice.User.Tokens!.RefreshToken);
        Assert.AreEqual(HttpStatusCode.BadRequest, refresh.StatusCode, "the ended session's refresh token is refused");
    }

    [TestMethod]
    public async Task Logout_at_the_idp_with_the_session_cookie_gone_ends_the_session_named_by_the_id_token_hint()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        // The IdP cookie is lost (another browser, cleared cookies): only the id_token_hint names the session.
        using var stranger = _stack.NewUser("stranger");

        await stranger.LogOutAtIdpAsync(alice.User.Tokens!.IdToken);

        await alice.AssertSignedOutAsync("logout");
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Refresh_token_revoked_at_the_revocation_endpoint_closes_that_session_at_that_client()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        Assert.AreEqual(HttpStatusCode.OK, await alice.User.RevokeAtEndpointAsync(alice.User.Tokens!.RefreshToken));

        await alice.AssertSignedOutAsync("token_revoked");
        await bob.AssertStillLiveAsync();
        Assert.IsTrue(await alice.User.IdpCookieAcceptedAsync(), "one client's grant ended; the IdP session goes on");
    }

    [TestMethod]
    public async Task Token_manager_bulk_revocation_by_subject_closes_the_users_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        var count = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IOpenIddictTokenManager>().RevokeBySubjectAsync(alice.User.Name).AsTask());

        Assert.IsTrue(count > 0);
        await alice.AssertSignedOutAsync("token_revoked");
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Token_manager_filtered_bulk_revocation_closes_the_users_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(async s =>
        {
            var applications = s.GetRequiredService<IOpenIddictApplicationManager>();
            var application = await applications.FindByClientIdAsync(TestIdentityProvider.ClientId);
            var id = await applications.GetIdAsync(application!);
            return await s.GetRequiredService<IOpenIddictTokenManager>().RevokeAsync(alice.User.Name, id, OpenIddictConstants.Statuses.Valid, OpenIddictConstants.TokenTypeIdentifiers.RefreshToken);
        });

        await alice.AssertSignedOutAsync("token_revoked");
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Authorization_manager_revocation_by_subject_closes_the_users_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IOpenIddictAuthorizationManager>().RevokeBySubjectAsync(alice.User.Name).AsTask());

        await alice.AssertSignedOutAsync("token_revoked");
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Admin_revoking_a_clients_grants_closes_every_users_connections_to_it_with_the_admin_reason()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(async s =>
        {
            var applications = s.GetRequiredService<IOpenIddictApplicationManager>();
            var id = await applications.GetIdAsync((await applications.FindByClientIdAsync(TestIdentityProvider.ClientId))!);
            using (AutoSignOutRevocationReason.Use(RevocationReasons.AdminRevoked))
            {
                await s.GetRequiredService<IOpenIddictAuthorizationManager>().RevokeByApplicationIdAsync(id!);
                return await s.GetRequiredService<IOpenIddictTokenManager>().RevokeByApplicationIdAsync(id!);
            }
        });

        await alice.AssertSignedOutAsync("admin_revoked");
        await bob.AssertSignedOutAsync("admin_revoked");
    }

    [TestMethod]
    [DataRow(RevocationReasons.SignOutEverywhere)]
    [DataRow(RevocationReasons.AdminRevoked)]
    public async Task Sign_out_everywhere_closes_every_session_of_the_user_and_ends_them_at_the_idp(string reason)
    {
        await using var laptop = await LiveUser.StartAsync(_stack, "carol");
        await using var phone = await LiveUser.StartAsync(_stack, "carol", laptop.User.Name);
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        var revoked = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().SignOutEverywhereAsync(laptop.User.Name, reason));

        Assert.AreEqual(2, revoked, "one revocation per session");
        await laptop.AssertSignedOutAsync(reason);
        await phone.AssertSignedOutAsync(reason);
        await bob.AssertStillLiveAsync();
        Assert.IsFalse(await laptop.User.IdpCookieAcceptedAsync());
        Assert.IsFalse(await phone.User.IdpCookieAcceptedAsync());
        Assert.IsTrue(await bob.User.IdpCookieAcceptedAsync());
    }

    [TestMethod]
    public async Task Refresh_rotation_code_redemption_and_pruning_notify_nobody()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        using var enqueued = new MetricCollector<long>(_stack.Idp.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.enqueued");

        var old = alice.User.Tokens!.RefreshToken;
        await alice.User.RefreshAsync();
        await alice.User.RefreshAsync();
        await alice.User.GetTokensAsync();
        await _stack.Idp.InScopeAsync(async s =>
        {
            await s.GetRequiredService<IOpenIddictTokenManager>().PruneAsync(DateTimeOffset.UtcNow.AddDays(30));
            return await s.GetRequiredService<IOpenIddictAuthorizationManager>().PruneAsync(DateTimeOffset.UtcNow.AddDays(30));
        });

        await Task.Delay(500);
        Assert.AreEqual(0, enqueued.GetMeasurementSnapshot().Count, "nothing is enqueued");
        await alice.AssertStillLiveAsync();
        Assert.AreNotEqual(old, alice.User.Tokens.RefreshToken, "the refresh token rotated");
    }

    [TestMethod]
    public async Task A_revocation_rolled_back_with_its_transaction_sends_nothing()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");

        await _stack.Idp.InScopeAsync(async s =>
        {
            var db = s.GetRequiredService<IdpContext>();
            await using var transaction = await db.Database.BeginTransactionAsync();
            var count = await s.GetRequiredService<IOpenIddictTokenManager>().RevokeBySubjectAsync(alice.User.Name);
            Assert.IsTrue(count > 0);
            Assert.IsTrue(await db.Set<AutoSignOut.IdentityServer.EntityFrameworkCore.LogoutOutboxEntry>().AnyAsync(), "the notification is written in the revocation's transaction");
            await transaction.RollbackAsync();
            return count;
        });

        await Task.Delay(1000);
        await alice.AssertStillLiveAsync();
        Assert.AreEqual(0, await _stack.Idp.OutboxCountAsync(), "the rollback took the notification with it");
        using var refresh = await alice.User.TryRefreshAsync(alice.User.Tokens!.RefreshToken);
        Assert.AreEqual(HttpStatusCode.OK, refresh.StatusCode, "the revocation itself was rolled back too");
    }

    [TestMethod]
    public async Task Bad_or_empty_revocations_send_nothing_and_fail_nothing()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        using var enqueued = new MetricCollector<long>(_stack.Idp.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.enqueued");
        using var stranger = _stack.NewUser("stranger");

        Assert.AreEqual(HttpStatusCode.OK, await stranger.RevokeAtEndpointAsync("not-a-token"));
        await stranger.LogOutAtIdpAsync();
        var none = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().SignOutEverywhereAsync("nobody-" + Guid.NewGuid()));
        var unknown = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().EndSessionAsync("no-such-session"));

        Assert.AreEqual(0, none);
        Assert.IsFalse(unknown);
        await Task.Delay(500);
        Assert.AreEqual(0, enqueued.GetMeasurementSnapshot().Count);
        await alice.AssertStillLiveAsync();

        // Revoking an already revoked token notifies once, not twice.
        Assert.AreEqual(HttpStatusCode.OK, await alice.User.RevokeAtEndpointAsync(alice.User.Tokens!.RefreshToken));
        await alice.AssertSignedOutAsync("token_revoked");
        var afterFirst = enqueued.GetMeasurementSnapshot().Sum(m => m.Value);
        Assert.IsGreaterThan(0L, afterFirst, "a notification written in the revocation's transaction counts as enqueued (so the zeros above mean nothing was)");
        Assert.AreEqual(HttpStatusCode.OK, await alice.User.RevokeAtEndpointAsync(alice.User.Tokens!.RefreshToken));
        await Task.Delay(300);
        Assert.AreEqual(afterFirst, enqueued.GetMeasurementSnapshot().Sum(m => m.Value));
    }

    [TestMethod]
    public async Task Issued_access_tokens_are_indexed_with_their_session()
    {
        using var alice = _stack.NewUser("alice");
        await alice.SignInAsync();
        var jti = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(alice.Tokens!.AccessToken);
        var sid = jti.GetClaim("sid").Value;

        var indexed = await _stack.Idp.InScopeAsync(async s => await s.GetRequiredService<IIssuedTokenIndex>().FindAsync(alice.Name, sid, DateTimeOffset.UtcNow, default));

        Assert.IsTrue(indexed.Any(t => t.TokenId == jti.Id && t.ClientId == TestIdentityProvider.ClientId && t.SessionId == sid && t.Subject == alice.Name));
        var idToken = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(alice.Tokens.IdToken);
        Assert.AreEqual(sid, idToken.GetClaim("sid").Value, "id and access tokens carry the same sid");
        var refreshed = await alice.RefreshAsync();
        Assert.AreEqual(sid, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(refreshed.AccessToken).GetClaim("sid").Value, "the sid survives refresh and rotation");
    }

    [TestMethod]
    public async Task The_sid_survives_the_idp_re_issuing_its_cookie_and_the_session_still_ends_as_one()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        var sid = new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(alice.User.Tokens!.IdToken).GetClaim("sid").Value;

        await alice.User.ReissueIdpCookieAsync();
        var after = await alice.User.GetTokensAsync();

        Assert.AreEqual(sid, new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(after.IdToken).GetClaim("sid").Value, "a re-issued cookie keeps its session");
        var sessions = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutSessionService>().GetSessionsAsync(alice.User.Name));
        Assert.AreEqual(1, sessions.Count);
        await alice.User.LogOutAtIdpAsync();
        await alice.AssertSignedOutAsync(RevocationReasons.Logout);
    }

    [TestMethod]
    public async Task Discovery_advertises_back_channel_logout()
    {
        using var http = new HttpClient();
        var json = JsonDocument.Parse(await http.GetStringAsync(_stack.Idp.Address + "/.well-known/openid-configuration")).RootElement;
        Assert.IsTrue(json.GetProperty("backchannel_logout_supported").GetBoolean());
        Assert.IsTrue(json.GetProperty("backchannel_logout_session_supported").GetBoolean());
    }

    [TestMethod]
    [DataRow("ftp://app.example/logout")]
    [DataRow("/relative")]
    [DataRow("https://app.example/logout#fragment")]
    public async Task An_application_with_an_invalid_back_channel_uri_is_refused(string uri)
    {
        Assert.ThrowsExactly<ArgumentException>(() => new OpenIddictApplicationDescriptor().SetBackChannelLogout(new Uri(uri, UriKind.RelativeOrAbsolute)));

        var descriptor = new OpenIddictApplicationDescriptor { ClientId = "bad-" + Guid.NewGuid(), ClientType = OpenIddictConstants.ClientTypes.Public };
        descriptor.Properties[AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty] = JsonSerializer.SerializeToElement(uri);
        await _stack.Idp.InScopeAsync(async s =>
        {
            var applications = s.GetRequiredService<IOpenIddictApplicationManager>();
            await Assert.ThrowsExactlyAsync<OpenIddictExceptions.ValidationException>(async () => await applications.CreateAsync(descriptor));

            // And on update: a valid application changed to an invalid URI.
            var good = new OpenIddictApplicationDescriptor { ClientId = "good-" + Guid.NewGuid(), ClientType = OpenIddictConstants.ClientTypes.Public }
                .SetBackChannelLogout(new Uri("https://app.example/logout"));
            var application = await applications.CreateAsync(good);
            good.Properties[AutoSignOutOpenIddictDefaults.BackChannelLogoutUriProperty] = JsonSerializer.SerializeToElement(uri);
            await Assert.ThrowsExactlyAsync<OpenIddictExceptions.ValidationException>(async () => await applications.UpdateAsync(application, good));
            return 0;
        });
    }
}
