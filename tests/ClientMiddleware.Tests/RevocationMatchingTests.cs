using System.Net;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>
/// Which credentials a revocation covers: the session's issuer, the credential's issue time (on which clock), token ids,
/// and what the app may revoke itself. Each test is a way a revoked session could stay alive, or a fresh one be refused.
/// </summary>
[TestClass]
public sealed class RevocationMatchingTests
{
    private TestOpenIdProvider _op = null!;
    private TestClientApp _app = null!;

    [TestInitialize]
    public async Task StartAsync() => _op = await TestOpenIdProvider.StartAsync();

    [TestCleanup]
    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        await _op.DisposeAsync();
    }

    private async Task StartAppAsync(Action<AutoSignOutOptions>? configure = null) => _app = await TestClientApp.StartAsync(_op, configure);

    private IAutoSignOutService Service => _app.Services.GetRequiredService<IAutoSignOutService>();

    private string LogoutToken(string? sub, string? sid, Action<JsonObject>? payload = null) =>
        _op.LogoutToken(TestClientApp.ClientId, sub, sid, editPayload: payload);

    private static Action<JsonObject> IssuedAt(DateTimeOffset at) => p =>
    {
        p["iat"] = at.ToUnixTimeSeconds();
        p["exp"] = at.ToUnixTimeSeconds() + 120;
    };

    // Item 1
    [TestMethod]
    public async Task An_openid_connect_sign_in_without_sid_is_closed_and_refused_by_the_providers_sub_only_logout()
    {
        await StartAppAsync();
        _op.IdTokenHasSessionId = false;
        using var alice = _app.CreateBrowser();
        await alice.SignInWithOpenIdConnectAsync("alice");
        await using var hub = await alice.ConnectAsync();

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", sid: null))).StatusCode);

        await hub.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Found, (await alice.GetMeAsync()).StatusCode, "the cookie is refused");
    }

    // Item 2
    [TestMethod]
    public async Task A_long_polling_connection_is_matched_by_its_credentials_issue_time_not_its_connect_time()
    {
        await StartAppAsync();
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", "s-lp");
        var between = await BetweenAsync();
        await using var hub = await browser.ConnectAsync(HttpTransportType.LongPolling);

        // A revocation made after the cookie was issued but before the connection opened, reaching this node late.
        await Service.PublishAsync(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-lp", CreatedAt = between });

        await hub.AssertClosedAsync();
    }

    // Item 2: without the issue time a connection counts as old, so a revocation of its keys covers it.
    [TestMethod]
    public void A_connection_of_unknown_age_is_covered_by_any_revocation_of_its_keys()
    {
        var connection = new ProbeConnection("https://op", [ConnectionKey.Session("s")], IssueTime.Unknown);
        var registry = new LiveConnectionRegistry();
        registry.Register(connection);
        var matches = registry.FindMatches("https://op", [ConnectionKey.Session("s")], new RevocationTime(DateTimeOffset.UnixEpoch));
        Assert.AreEqual(1, matches.Count);
    }

    // Item 2: an app that authenticates in its own middleware; no issue time is known, so the connection counts as old.
    [TestMethod]
    public async Task A_connection_whose_issue_time_is_unknown_is_closed_by_a_revocation_that_reaches_it_late()
    {
        await StartAppAsync();
        var before = DateTimeOffset.UtcNow.AddMinutes(-1);
        await using var hub = await _app.ConnectWithHeaderPrincipalAsync("alice", "s-unknown");

        await Service.PublishAsync(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-unknown", CreatedAt = before });

        await hub.AssertClosedAsync();
    }

    // Item 3
    [TestMethod]
    public async Task A_cookie_reissued_from_OnValidatePrincipal_for_a_revoked_session_is_still_refused()
    {
        await StartAppAsync(o => o.ClearRevokedCookies = false);
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", "s-reissue");
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", "s-reissue"))).StatusCode);

        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync("X-Reissue-Cookie")).StatusCode);
        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync()).StatusCode, "whatever cookie that request left, it is refused");
    }

    // Item 3
    [TestMethod]
    public async Task A_cookie_reissued_with_fresh_properties_keeps_its_original_issue_time()
    {
        await StartAppAsync();
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", "s-keep");
        var between = await BetweenAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await browser.GetMeAsync("X-Reissue-Cookie")).StatusCode);

        await Service.PublishAsync(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-keep", CreatedAt = between });

        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync()).StatusCode, "the re-issued cookie is as old as the sign-in");
    }

    // Item 3
    [TestMethod]
    public async Task A_sliding_renewal_never_renews_a_revoked_cookie_without_the_precise_time()
    {
        await StartAppAsync(o => o.ClearRevokedCookies = false);
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", "s-slide", raw: true);

        // The cookie's own issue time has whole seconds: the revocation, and then the renewal, come in later seconds.
        await Task.Delay(1100);
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", "s-slide"))).StatusCode);
        await Task.Delay(1100);

        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync("X-Renew-Cookie")).StatusCode);
        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync()).StatusCode, "the refused cookie was not renewed");
    }

    // Item 4: one clock where the provider issued both.
    [TestMethod]
    public async Task A_bearer_token_minted_just_before_the_logout_by_a_provider_whose_clock_runs_ahead_is_closed_and_refused()
    {
        await StartAppAsync();
        var opNow = DateTimeOffset.UtcNow.AddSeconds(30);
        var token = _op.AccessToken("alice", "s-ahead", out _, issuedAt: opNow);
        await using var hub = await _app.ConnectWithTokenAsync(token);

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", "s-ahead", IssuedAt(opNow.AddSeconds(1))))).StatusCode);

        await hub.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await Assert.ThrowsExactlyAsync<HttpRequestException>(() => _app.ConnectWithTokenAsync(token))).StatusCode);
    }

    // Item 4: the other side of the rule.
    [TestMethod]
    public async Task A_bearer_token_minted_after_the_logout_on_the_providers_clock_stays_open()
    {
        await StartAppAsync();
        var opNow = DateTimeOffset.UtcNow.AddSeconds(30);
        await using var hub = await _app.ConnectWithTokenAsync(_op.AccessToken("alice", "s-after", out _, issuedAt: opNow));

        // Delivered late: the logout happened 5 s (provider time) before the token was minted.
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", "s-after", IssuedAt(opNow.AddSeconds(-5))))).StatusCode);

        await hub.AssertAliveAsync();
    }

    // Item 4
    [TestMethod]
    public async Task A_logged_out_jti_is_refused_whatever_its_issue_time()
    {
        await StartAppAsync();
        var token = _op.AccessToken("alice", sid: null, out var jti, issuedAt: DateTimeOffset.UtcNow.AddSeconds(60));
        await using var hub = await _app.ConnectWithTokenAsync(token);

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("nobody", sid: null, p => p["revoked_jti"] = new JsonArray(jti)))).StatusCode);

        await hub.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await Assert.ThrowsExactlyAsync<HttpRequestException>(() => _app.ConnectWithTokenAsync(token))).StatusCode);
    }

    // Item 4: a logout that ends this client's grant while the provider's session goes on.
    [TestMethod]
    public async Task A_fresh_sign_in_into_the_same_provider_session_works_after_its_logout()
    {
        await StartAppAsync();
        using var alice = _app.CreateBrowser();
        await alice.SignInWithOpenIdConnectAsync("alice");
        await using var before = await alice.ConnectAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", TestOpenIdProvider.SessionIdOf("alice")))).StatusCode);
        await before.AssertClosedAsync();

        // The provider answers the new sign-in from the same session: same sid.
        await alice.SignInWithOpenIdConnectAsync("alice");
        await using var after = await alice.ConnectAsync();
        await after.AssertAliveAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await alice.GetMeAsync()).StatusCode);
        await using var bearer = await _app.ConnectWithTokenAsync(_op.AccessToken("alice", TestOpenIdProvider.SessionIdOf("alice"), out _, issuedAt: DateTimeOffset.UtcNow.AddSeconds(2)));
        await bearer.AssertAliveAsync();
    }

    // Item 5
    [TestMethod]
    public async Task A_bearer_token_with_only_a_jti_is_closed_and_refused_by_its_revoked_jti()
    {
        await StartAppAsync();
        var token = _op.AccessToken(sub: null, sid: null, out var jti);
        await using var hub = await _app.ConnectWithTokenAsync(token);

        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("nobody", sid: null, p => p["revoked_jti"] = new JsonArray(jti)))).StatusCode);

        await hub.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Unauthorized, (await Assert.ThrowsExactlyAsync<HttpRequestException>(() => _app.ConnectWithTokenAsync(token))).StatusCode);
    }

    // Item 5: a bearer token's issue time is its iat, not its nbf.
    [TestMethod]
    public async Task A_bearer_tokens_issue_time_is_its_iat_not_its_nbf()
    {
        await StartAppAsync();
        var now = DateTimeOffset.UtcNow;
        var token = _op.Sign(
            new JsonObject { ["aud"] = TestClientApp.ApiAudience, ["sub"] = "alice", ["sid"] = "s-nbf", ["iat"] = now.ToUnixTimeSeconds(), ["nbf"] = now.AddSeconds(-60).ToUnixTimeSeconds() },
            type: "at+jwt");
        await using var hub = await _app.ConnectWithTokenAsync(token);

        // The logout happened 30 s before the token was issued (and after its nbf): the token is newer.
        Assert.AreEqual(HttpStatusCode.OK, (await _app.PostLogoutAsync(LogoutToken("alice", "s-nbf", IssuedAt(now.AddSeconds(-30))))).StatusCode);

        await hub.AssertAliveAsync();
    }

    // Item 14
    [TestMethod]
    public async Task Sign_out_everywhere_in_app_reaches_only_the_users_of_the_named_issuer()
    {
        await StartAppAsync();
        using var local = _app.CreateBrowser();
        await local.SignInAsync("alice", local: true);
        using var fromOp = _app.CreateBrowser();
        await fromOp.SignInWithOpenIdConnectAsync("alice");
        await using var localHub = await local.ConnectAsync();
        await using var opHub = await fromOp.ConnectAsync();

        await Service.SignOutEverywhereAsync("alice", "password_changed");

        await localHub.AssertClosedAsync();
        await opHub.AssertAliveAsync();
        Assert.AreEqual(HttpStatusCode.OK, (await fromOp.GetMeAsync()).StatusCode, "the provider's alice is another user");

        await Service.SignOutEverywhereAsync("alice", "admin_revoked", issuer: _op.Issuer);
        await opHub.AssertClosedAsync();
    }

    // Item 15
    [TestMethod]
    public async Task PublishAsync_refuses_a_future_time_a_signal_naming_no_session_and_a_free_text_source()
    {
        await StartAppAsync();
        await Assert.ThrowsExactlyAsync<ArgumentException>(async () => await Service.PublishAsync(new SignOutSignal { Subject = "alice", CreatedAt = DateTimeOffset.UtcNow.AddHours(1) }));
        await Assert.ThrowsExactlyAsync<ArgumentException>(async () => await Service.PublishAsync(new SignOutSignal { Issuer = _op.Issuer }));
        await Assert.ThrowsExactlyAsync<ArgumentException>(async () => await Service.PublishAsync(new SignOutSignal { Subject = "alice", Source = "user-" + Guid.NewGuid() }));
        await Service.PublishAsync(new SignOutSignal { Subject = "alice" });
    }

    /// <summary>Returns a moment strictly after everything before the call and strictly before everything after it.</summary>
    private static async Task<DateTimeOffset> BetweenAsync()
    {
        await Task.Delay(20);
        var between = DateTimeOffset.UtcNow;
        await Task.Delay(20);
        return between;
    }

    private sealed class ProbeConnection(string issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt) : LiveConnection(issuer, keys, issuedAt)
    {
        public override string Kind => "probe";

        public override string Id => "probe";

        protected internal override ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
