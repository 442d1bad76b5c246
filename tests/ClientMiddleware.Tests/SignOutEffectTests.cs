using System.Diagnostics.Metrics;
using System.Net;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>What a valid logout token does: closes exactly the named connections and refuses their credentials.</summary>
[TestClass]
public sealed class SignOutEffectTests
{
    private TestOpenIdProvider _op = null!;
    private TestClientApp _app = null!;

    [TestInitialize]
    public async Task StartAsync()
    {
        _op = await TestOpenIdProvider.StartAsync();
        _app = await TestClientApp.StartAsync(_op);
    }

    [TestCleanup]
    public async Task StopAsync()
    {
        await _app.DisposeAsync();
        await _op.DisposeAsync();
    }

    private async Task<(TestClientApp.Browser Browser, HubClient Client)> SessionAsync(string sub, string sid)
    {
        var browser = _app.CreateBrowser();
        await browser.SignInAsync(sub, sid);
        return (browser, await browser.ConnectAsync());
    }

    [TestMethod]
    public async Task A_valid_sid_token_closes_that_sessions_connections_and_no_others()
    {
        var (aliceBrowser, alice1) = await SessionAsync("alice", "s-alice-1");
        var alice1b = await aliceBrowser.ConnectAsync();
        var (_, alice2) = await SessionAsync("alice", "s-alice-2");
        var (_, bob) = await SessionAsync("bob", "s-bob");

        var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-alice-1", editPayload: p => p["reason"] = "logout"));

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, "exactly 200, not 204");
        Assert.IsTrue(response.Headers.CacheControl?.NoStore);
        await alice1.AssertClosedAsync();
        await alice1b.AssertClosedAsync();
        Assert.AreEqual("logout", await alice1.SignedOut, "the client is told why before the connection closes");
        await alice2.AssertAliveAsync();
        await bob.AssertAliveAsync();
        Assert.AreEqual(2, _app.Registry.Count);
    }

    [TestMethod]
    public async Task A_token_without_typ_is_accepted_as_the_specification_allows()
    {
        var (_, alice) = await SessionAsync("alice", "s-1");
        var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1", editHeader: h => h.Remove("typ")));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await alice.AssertClosedAsync();
    }

    [TestMethod]
    public async Task A_sub_only_token_closes_every_session_of_that_user()
    {
        var (_, alice1) = await SessionAsync("alice", "s-1");
        var (_, alice2) = await SessionAsync("alice", "s-2");
        var (_, bob) = await SessionAsync("bob", "s-3");

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", sid: null))).StatusCode);

        await alice1.AssertClosedAsync();
        await alice2.AssertClosedAsync();
        await bob.AssertAliveAsync();
    }

    [TestMethod]
    public async Task Revoked_session_cookie_is_refused_on_reconnect_and_cleared_and_a_fresh_sign_in_works()
    {
        var (browser, alice) = await SessionAsync("alice", "s-1");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
        await alice.AssertClosedAsync();

        var revokedCookie = browser.Cookies.GetCookieHeader(new Uri(_app.BaseAddress));

        // The same cookie on a page request: refused, sent to sign-in, and cleared.
        var me = await browser.GetMeAsync();
        Assert.AreEqual(HttpStatusCode.Found, me.StatusCode, "a page request is sent to sign-in");
        Assert.IsTrue(me.Headers.TryGetValues("Set-Cookie", out var setCookies) && setCookies.Any(c => c.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase)),
            "the revoked cookie is cleared");

        // The same cookie, replayed by a client that ignored the clearing: negotiate is refused with 401 (not a login redirect).
        browser.RestoreCookies(revokedCookie);
        var reconnect = await Assert.ThrowsExactlyAsync<HttpRequestException>(() => browser.ConnectAsync());
        Assert.AreEqual(HttpStatusCode.Unauthorized, reconnect.StatusCode);

        // A fresh sign-in, even with the same OP session id for a new sign-in (new cookie, issued after the revocation), works.
        await browser.SignInAsync("alice", "s-new");
        await using var fresh = await browser.ConnectAsync();
        await fresh.AssertAliveAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await browser.GetMeAsync()).StatusCode);
    }

    [TestMethod]
    public async Task A_cookie_made_by_the_openid_connect_handler_is_closed_by_the_providers_sid_and_refused_afterwards()
    {
        using var alice = _app.CreateBrowser();
        await alice.SignInWithOpenIdConnectAsync("alice");
        using var bob = _app.CreateBrowser();
        await bob.SignInWithOpenIdConnectAsync("bob");
        await using var aliceHub = await alice.ConnectAsync();
        await using var bobHub = await bob.ConnectAsync();

        var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", TestOpenIdProvider.SessionIdOf("alice")));

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await aliceHub.AssertClosedAsync();
        await bobHub.AssertAliveAsync();
        Assert.AreEqual(HttpStatusCode.Found, (await alice.GetMeAsync()).StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, (await bob.GetMeAsync()).StatusCode);
    }

    [TestMethod]
    public async Task After_sign_out_everywhere_a_fresh_sign_in_of_the_same_user_works()
    {
        var (browser, alice) = await SessionAsync("alice", "s-1");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", sid: null))).StatusCode);
        await alice.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await Assert.ThrowsExactlyAsync<HttpRequestException>(() => browser.ConnectAsync())).StatusCode);

        await browser.SignInAsync("alice", "s-2");
        await using var fresh = await browser.ConnectAsync();
        await fresh.AssertAliveAsync();
    }

    [TestMethod]
    public async Task A_revoked_jti_closes_the_bearer_connection_of_that_token_and_refuses_its_reconnect()
    {
        var token1 = _op.AccessToken("alice", sid: null, out var jti1);
        var token2 = _op.AccessToken("alice", sid: null, out _);
        await using var byToken1 = await _app.ConnectWithTokenAsync(token1);
        await using var byToken2 = await _app.ConnectWithTokenAsync(token2);

        // A sid-less logout for another user that lists alice's revoked access token id.
        var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "nobody", sid: null, editPayload: p => p["revoked_jti"] = new System.Text.Json.Nodes.JsonArray(jti1)));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);

        await byToken1.AssertClosedAsync();
        await byToken2.AssertAliveAsync();
        var reconnect = await Assert.ThrowsExactlyAsync<HttpRequestException>(() => _app.ConnectWithTokenAsync(token1));
        Assert.AreEqual(HttpStatusCode.Unauthorized, reconnect.StatusCode);
    }

    [TestMethod]
    public async Task A_bearer_connection_is_closed_by_its_sid()
    {
        await using var bearer = await _app.ConnectWithTokenAsync(_op.AccessToken("alice", "s-bearer", out _));
        await using var other = await _app.ConnectWithTokenAsync(_op.AccessToken("alice", "s-other", out _));
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-bearer"))).StatusCode);
        await bearer.AssertClosedAsync();
        await other.AssertAliveAsync();
    }

    [TestMethod]
    public async Task A_redelivery_with_a_fresh_jti_is_accepted()
    {
        var (_, alice) = await SessionAsync("alice", "s-1");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
        await alice.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
    }

    [TestMethod]
    public async Task A_local_sign_in_gets_a_session_id_and_one_session_can_be_signed_out_in_app()
    {
        using var browser1 = _app.CreateBrowser();
        var sid1 = await browser1.SignInAsync("carol", local: true);
        using var browser2 = _app.CreateBrowser();
        var sid2 = await browser2.SignInAsync("carol", local: true);
        Assert.IsFalse(string.IsNullOrEmpty(sid1));
        Assert.AreNotEqual(sid1, sid2);
        await using var first = await browser1.ConnectAsync();
        await using var second = await browser2.ConnectAsync();

        await _app.Services.GetRequiredService<IAutoSignOutService>().SignOutSessionAsync(sid1, "admin_revoked");

        Assert.AreEqual("admin_revoked", await first.SignedOut);
        await first.AssertClosedAsync();
        await second.AssertAliveAsync();
        Assert.AreEqual(HttpStatusCode.Found, (await browser1.GetMeAsync()).StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, (await browser2.GetMeAsync()).StatusCode);
    }

    [TestMethod]
    public async Task Sign_out_everywhere_in_app_closes_every_session_of_the_user_and_a_new_sign_in_works()
    {
        using var browser1 = _app.CreateBrowser();
        await browser1.SignInAsync("carol", local: true);
        using var browser2 = _app.CreateBrowser();
        await browser2.SignInAsync("carol", local: true);
        var (_, dave) = await SessionAsync("dave", "s-dave");
        await using var first = await browser1.ConnectAsync();
        await using var second = await browser2.ConnectAsync();

        await _app.Services.GetRequiredService<IAutoSignOutService>().SignOutEverywhereAsync("carol", "password_changed");

        await first.AssertClosedAsync();
        await second.AssertClosedAsync();
        Assert.AreEqual("password_changed", await first.SignedOut);
        Assert.AreEqual("password_changed", await second.SignedOut);
        await dave.AssertAliveAsync();
        await browser1.SignInAsync("carol", local: true);
        await using var again = await browser1.ConnectAsync();
        await again.AssertAliveAsync();
    }

    [TestMethod]
    public async Task A_revoked_session_cannot_invoke_hub_methods_in_the_gap_before_its_abort()
    {
        var (_, alice) = await SessionAsync("alice", "s-gap");

        // Revoke in the store only, as if the signal's close had not reached this connection yet.
        await _app.Services.GetRequiredService<IRevokedSessionStore>().RevokeAsync(null, [ConnectionKey.Session("s-gap")], DateTimeOffset.UtcNow);

        // The client sees the refusal (HubException) or the abort that follows it (canceled); the server never runs the method.
        var error = await Assert.ThrowsAsync<Exception>(() => alice.Connection.InvokeAsync<string>("Echo", "after-revocation"));
        Assert.IsTrue(error is HubException or TaskCanceledException, error.ToString());
        await alice.AssertClosedAsync();
        var executed = _app.Services.GetRequiredService<InvocationLog>().Values;
        Assert.IsFalse(executed.Contains("after-revocation"));
    }

    [TestMethod]
    public async Task A_logout_token_from_one_provider_does_not_close_another_providers_session_with_the_same_sid()
    {
        await using var op2 = await TestOpenIdProvider.StartAsync();
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(_op, o => o.Providers.Add(new OpenIdProvider { Authority = op2.Issuer, ClientIds = { "client-at-op2" }, RequireHttpsMetadata = false }));
        var (_, alice) = await SessionAsync("alice", "shared-sid");

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(op2.LogoutToken("client-at-op2", "alice", "shared-sid"))).StatusCode);
        await alice.AssertAliveAsync();

        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(op2.LogoutToken(TestClientApp.ClientId, "alice", "shared-sid"))).StatusCode,
            "op2 may not use the client id registered at the first provider");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "shared-sid"))).StatusCode);
        await alice.AssertClosedAsync();
    }

    [TestMethod]
    public async Task Several_client_ids_of_one_provider_are_accepted()
    {
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(null, o => o.Providers.Add(new OpenIdProvider { Authority = _op.Issuer, ClientIds = { "web", "mobile" }, RequireHttpsMetadata = false }));
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken("web", "alice", "s-1"))).StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken("mobile", "alice", "s-1"))).StatusCode);
        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(_op.LogoutToken("tv", "alice", "s-1"))).StatusCode);
    }

    [TestMethod]
    public async Task A_rotated_key_is_fetched_on_its_unknown_kid_but_a_flood_of_bogus_kids_reads_the_jwks_once()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(_op, services: s => s.AddSingleton<TimeProvider>(time));
        var atStart = _op.JwksRequests; // each app reads the keys at start
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
        Assert.AreEqual(atStart, _op.JwksRequests);

        _op.RotateKey();
        time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
        Assert.AreEqual(atStart + 1, _op.JwksRequests);

        for (var i = 0; i < 50; i++)
        {
            var header = _op.LogoutHeader();
            header["kid"] = "bogus-" + i;
            var token = TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1"), TestJwt.Rs256(_op.UnpublishedKey));
            Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(token)).StatusCode);
        }

        Assert.AreEqual(atStart + 1, _op.JwksRequests, "refreshes for unknown kids are rate-limited");
        time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);
        var late = _op.LogoutHeader();
        late["kid"] = "bogus-late";
        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(TestJwt.Encode(late, _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1"), TestJwt.Rs256(_op.UnpublishedKey)))).StatusCode);
        Assert.AreEqual(atStart + 2, _op.JwksRequests, "after the interval an unknown kid may refresh again");
    }

    [TestMethod]
    public async Task Keys_given_in_options_validate_without_discovery()
    {
        await _app.DisposeAsync();
        var key = new Microsoft.IdentityModel.Tokens.RsaSecurityKey(_op.Key.ExportParameters(false)) { KeyId = _op.KeyId };
        var before = _op.JwksRequests;
        _app = await TestClientApp.StartAsync(null, o => o.Providers.Add(new OpenIdProvider { Issuer = _op.Issuer, ClientIds = { TestClientApp.ClientId }, SigningKeys = { key } }));
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
        Assert.AreEqual(before, _op.JwksRequests);
    }

    [TestMethod]
    public async Task An_ES256_token_verifies_with_an_EC_key_and_not_with_an_RSA_key()
    {
        await _app.DisposeAsync();
        using var ec = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        var ecKey = new Microsoft.IdentityModel.Tokens.ECDsaSecurityKey(ec) { KeyId = "ec-1" };
        _app = await TestClientApp.StartAsync(_op, o => o.Providers[0].SigningKeys.Add(ecKey));
        var header = new System.Text.Json.Nodes.JsonObject { ["alg"] = "ES256", ["typ"] = "logout+jwt", ["kid"] = "ec-1" };
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1"), TestJwt.Es256(ec)))).StatusCode);

        var underRsaKid = new System.Text.Json.Nodes.JsonObject { ["alg"] = "ES256", ["typ"] = "logout+jwt", ["kid"] = _op.KeyId };
        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(TestJwt.Encode(underRsaKid, _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1"), TestJwt.Es256(ec)))).StatusCode);
    }

    [TestMethod]
    public async Task Strict_typing_refuses_a_token_without_typ()
    {
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(_op, o => o.RequireLogoutTokenType = true);
        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1", editHeader: h => h.Remove("typ")))).StatusCode);
        Assert.AreEqual(HttpStatusCode.BadRequest, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1", editHeader: h => h["typ"] = "JWT"))).StatusCode);
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"))).StatusCode);
    }

    [TestMethod]
    public async Task Events_are_raised_for_the_signal_and_each_closing_connection()
    {
        var signals = new List<SignOutSignal>();
        var closing = new List<string>();
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(_op, o =>
        {
            o.Events.OnSignal = c => { lock (signals) { signals.Add(c.Signal); } return Task.CompletedTask; };
            o.Events.OnClosingConnection = c => { lock (closing) { closing.Add(c.Connection.Kind); } return Task.CompletedTask; };
        });
        var (_, a) = await SessionAsync("alice", "s-1");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1", editPayload: p => p["reason"] = "logout"))).StatusCode);
        await a.AssertClosedAsync();

        Assert.AreEqual(1, signals.Count);
        Assert.AreEqual("s-1", signals[0].SessionId);
        Assert.AreEqual(_op.Issuer, signals[0].Issuer);
        Assert.AreEqual("logout", signals[0].Reason);
        Assert.AreEqual(SignOutSignalSources.BackChannelLogout, signals[0].Source);
        CollectionAssert.AreEqual(new[] { "hub" }, closing);
    }

    [TestMethod]
    public async Task Metrics_count_tokens_by_outcome_and_closed_connections()
    {
        var meterFactory = _app.Services.GetRequiredService<IMeterFactory>();
        using var accepted = new MetricCollector<long>(meterFactory, AutoSignOutDefaults.TelemetryName, "autosignout.logout_tokens.accepted");
        using var rejected = new MetricCollector<long>(meterFactory, AutoSignOutDefaults.TelemetryName, "autosignout.logout_tokens.rejected");
        using var closed = new MetricCollector<long>(meterFactory, AutoSignOutDefaults.TelemetryName, "autosignout.connections.closed");
        using var duration = new MetricCollector<double>(meterFactory, AutoSignOutDefaults.TelemetryName, "autosignout.signal.duration");
        var (_, a) = await SessionAsync("alice", "s-1");

        await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1", editPayload: p => p["nonce"] = "x"));
        await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-1"));
        await a.AssertClosedAsync();

        Assert.AreEqual(1, accepted.GetMeasurementSnapshot().EvaluateAsCounter());
        var rejection = rejected.GetMeasurementSnapshot().Single();
        Assert.AreEqual("nonce_present", rejection.Tags["reason"]);
        Assert.AreEqual("hub", closed.GetMeasurementSnapshot().Single().Tags["kind"]);
        Assert.AreEqual(1, duration.GetMeasurementSnapshot().Count);
    }

    [TestMethod]
    public async Task Tokens_and_personal_data_are_not_logged_above_debug()
    {
        var (_, a) = await SessionAsync("alice-secret-subject", "secret-session-id");
        var token = _op.LogoutToken(TestClientApp.ClientId, "alice-secret-subject", "secret-session-id");
        await _app.PostLogoutAsync(token);
        await _app.PostLogoutAsync(token);
        await a.AssertClosedAsync();

        var ours = _app.Logs.Entries.Where(e => e.Category.StartsWith("AutoSignOut", StringComparison.Ordinal)).ToList();
        var visible = ours.Where(e => e.Level > LogLevel.Debug).Select(e => e.Message).ToList();
        Assert.IsTrue(visible.Count > 0);
        foreach (var message in visible)
        {
            Assert.IsFalse(message.Contains("secret-session-id", StringComparison.Ordinal), message);
            Assert.IsFalse(message.Contains("alice-secret-subject", StringComparison.Ordinal), message);
            Assert.IsFalse(message.Contains(token.Split('.')[2], StringComparison.Ordinal), message);
        }

        Assert.IsTrue(ours.Any(e => e.Level == LogLevel.Debug && e.Message.Contains("secret-session-id", StringComparison.Ordinal)),
            "the details are there at Debug for troubleshooting");
        Assert.IsTrue(_app.Logs.Entries.Any(e => e.EventId.Id == 1002 && e.EventId.Name == "LogoutTokenRejected"), "stable event ids");
    }

    [TestMethod]
    public async Task One_thousand_connections_across_one_hundred_users_a_signal_closes_exactly_one_users_connections()
    {
        var clients = new List<(string User, HubClient Client)>();
        var browsers = new List<TestClientApp.Browser>();
        try
        {
            for (var u = 0; u < 100; u++)
            {
                var browser = _app.CreateBrowser();
                browsers.Add(browser);
                await browser.SignInAsync($"user-{u}", $"sid-{u}");
            }

            for (var batch = 0; batch < 10; batch++)
            {
                var connects = browsers.Select(async (b, u) => ($"user-{u}", await b.ConnectAsync())).ToList();
                clients.AddRange(await Task.WhenAll(connects));
            }

            Assert.AreEqual(1000, _app.Registry.Count);
            Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "user-42", sid: null))).StatusCode);

            foreach (var (_, client) in clients.Where(c => c.User == "user-42"))
            {
                await client.AssertClosedAsync();
            }

            // Give any wrongly closed connection time to report, then check every other one is open.
            await Task.Delay(200);
            var wronglyClosed = clients.Where(c => c.User != "user-42" && !c.Client.IsOpen).ToList();
            Assert.AreEqual(0, wronglyClosed.Count);
            Assert.AreEqual(990, _app.Registry.Count);
            await clients.First(c => c.User == "user-7").Client.AssertAliveAsync();
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.Client.DisposeAsync().AsTask()));
            browsers.ForEach(b => b.Dispose());
        }
    }
}
