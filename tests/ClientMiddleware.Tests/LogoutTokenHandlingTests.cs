using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>
/// The shape of a logout token beyond §2.6 (duplicate members, extreme numbers, lifetimes, replays), what a valid one
/// must always achieve (its effect, even when a hook or the store fails), and what a rejected one may cost (logs).
/// </summary>
[TestClass]
public sealed class LogoutTokenHandlingTests
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

    private async Task StartAppAsync(Action<AutoSignOutOptions>? configure = null, Action<IServiceCollection>? services = null) =>
        _app = await TestClientApp.StartAsync(_op, configure, services);

    private async Task<(TestClientApp.Browser Browser, HubClient Hub)> SessionAsync(string sub, string sid)
    {
        var browser = _app.CreateBrowser();
        await browser.SignInAsync(sub, sid);
        return (browser, await browser.ConnectAsync());
    }

    private async Task<HttpStatusCode> PostAsync(string token) => (await _app.PostLogoutAsync(token)).StatusCode;

    // Item 10
    [TestMethod]
    public async Task Duplicate_json_members_are_refused()
    {
        await StartAppAsync();
        var (_, bob) = await SessionAsync("bob", "s-bob");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = $$"""{"alg":"RS256","typ":"logout+jwt","kid":"{{_op.KeyId}}"}""";
        var payload = $$$"""{"iss":"{{{_op.Issuer}}}","aud":"{{{TestClientApp.ClientId}}}","iat":{{{now}}},"exp":{{{now + 120}}},"jti":"{{{Guid.NewGuid():N}}}","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"sub":"alice","sub":"bob"}""";
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(TestJwt.EncodeRaw(header, payload, TestJwt.Rs256(_op.Key))));

        var duplicateKid = $$"""{"alg":"RS256","kid":"other","kid":"{{_op.KeyId}}"}""";
        var single = payload.Replace(""","sub":"bob"}""", "}", StringComparison.Ordinal);
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(TestJwt.EncodeRaw(duplicateKid, single, TestJwt.Rs256(_op.Key))));

        // The same name spelled with an escape is the same name.
        var escapedTwice = $$"""{"\u0061lg":"RS256","alg":"RS256","kid":"{{_op.KeyId}}"}""";
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(TestJwt.EncodeRaw(escapedTwice, single, TestJwt.Rs256(_op.Key))));
        await bob.AssertAliveAsync();

        // An escaped name alone is just a name: the token is valid.
        var escapedOnce = $$"""{"\u0061lg":"RS256","kid":"{{_op.KeyId}}"}""";
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(TestJwt.EncodeRaw(escapedOnce, single.Replace("\"sub\":\"alice\"", "\"sub\":\"bob\"", StringComparison.Ordinal), TestJwt.Rs256(_op.Key))));
        await bob.AssertClosedAsync();
    }

    // Item 10
    [TestMethod]
    public async Task An_exp_near_year_9999_is_a_400_not_a_server_error()
    {
        await StartAppAsync();
        foreach (var exp in new[] { 253402300799d, 253402300798.9, 253402300000d })
        {
            var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s", editPayload: p => p["exp"] = exp));
            Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
        }

        // An age limit near the end of the calendar must not overflow either.
        await _app.DisposeAsync();
        _app = await TestClientApp.StartAsync(_op, o => o.MaxLogoutTokenAge = TimeSpan.FromDays(365 * 9000));
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s")));
    }

    // Item 10
    [TestMethod]
    public async Task A_token_living_longer_than_the_lifetime_cap_is_refused()
    {
        await StartAppAsync();
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s", editPayload: p => p["exp"] = now + (long)TimeSpan.FromDays(30).TotalSeconds)));
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s", editPayload: p => p["exp"] = now + 300)));
    }

    // Item 10
    [TestMethod]
    public async Task A_token_replayed_on_another_node_does_not_end_a_session_signed_in_after_it()
    {
        // Another node (or this one after a restart) has no record of the token's jti.
        await StartAppAsync();
        var (_, fresh) = await SessionAsync("alice", "s-fresh");
        var minted = DateTimeOffset.UtcNow.AddMinutes(-3);
        var replayed = _op.LogoutToken(TestClientApp.ClientId, "alice", sid: null, editPayload: p =>
        {
            p["iat"] = minted.ToUnixTimeSeconds();
            p["exp"] = minted.AddMinutes(4).ToUnixTimeSeconds();
        });

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(replayed));

        await fresh.AssertAliveAsync();
    }

    // Item 12
    [TestMethod]
    public async Task A_throwing_OnSignal_or_OnClosingConnection_hook_does_not_stop_the_close_and_the_answer_is_200()
    {
        await StartAppAsync(o =>
        {
            o.Events.OnSignal = _ => throw new InvalidOperationException("audit store down");
            o.Events.OnClosingConnection = _ => throw new InvalidOperationException("hook bug");
        });
        var (browser, hub) = await SessionAsync("alice", "s-hook");

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-hook")));

        await hub.AssertClosedAsync();
        Assert.AreEqual(HttpStatusCode.Found, (await browser.GetMeAsync()).StatusCode);
    }

    // Item 12
    [TestMethod]
    public async Task When_the_store_fails_connections_still_close_and_the_providers_retry_of_the_same_token_is_applied()
    {
        var store = new FailingOnceStore();
        await StartAppAsync(services: s => s.Replace(ServiceDescriptor.Singleton<IRevokedSessionStore>(store)));
        var (_, hub) = await SessionAsync("alice", "s-store");
        var token = _op.LogoutToken(TestClientApp.ClientId, "alice", "s-store");

        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(token), "not signed out everywhere yet: the provider should retry");
        await hub.AssertClosedAsync();

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(token), "the retry is not taken for a replay");
        Assert.AreEqual(1, store.Revocations);
    }

    // Item 13
    [TestMethod]
    public async Task A_client_that_stops_reading_is_aborted_after_the_farewell_timeout_and_the_provider_gets_its_200()
    {
        await StartAppAsync(o => o.FarewellTimeout = TimeSpan.FromSeconds(1));
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", "s-stalled");
        using var stalled = await _app.ConnectStalledClientAsync(browser);
        await WaitUntilAsync(() => _app.Registry.Count == 1);
        await Task.Delay(1000); // lets the flood fill the socket's buffers and the pipe (no assertion depends on it)

        // Bounded only so that a regression fails instead of hanging (the transport's own send timeout is 10 minutes).
        using var patience = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var response = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-stalled"), patience.Token);

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);

        // The server aborted the connection: reading what it had buffered, the client reaches the end of the stream
        // (before the flood's 64 MB, and before the patience runs out).
        var buffer = new byte[256 * 1024];
        long received = 0;
        try
        {
            while (stalled.State == System.Net.WebSockets.WebSocketState.Open)
            {
                var result = await stalled.ReceiveAsync(buffer, patience.Token);
                received += result.Count;
                if (result.MessageType == System.Net.WebSockets.WebSocketMessageType.Close)
                {
                    break;
                }
            }
        }
        catch (System.Net.WebSockets.WebSocketException)
        {
            // Aborted without a close frame: the end of the stream all the same.
        }

        Assert.IsFalse(patience.IsCancellationRequested, "the connection should have ended");
        Assert.IsTrue(received < 1000L * 64 * 1024, $"{received} bytes: the flood was cut short");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(50);
        }

        Assert.IsTrue(condition());
    }

    // Item 16
    [TestMethod]
    public async Task Rejected_anonymous_requests_cannot_flood_the_log_nor_learn_which_check_failed()
    {
        await StartAppAsync();
        var unknownIssuer = await _app.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s", editPayload: p => p["iss"] = "https://evil.example"));
        var header = _op.LogoutHeader();
        header["kid"] = "no-such-kid";
        var unknownKid = await _app.PostLogoutAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId), TestJwt.Rs256(_op.UnpublishedKey)));
        var badSignature = await _app.PostLogoutAsync(TestJwt.Encode(_op.LogoutHeader(), _op.LogoutPayload(TestClientApp.ClientId), TestJwt.Rs256(_op.UnpublishedKey)));
        var descriptions = new List<string>();
        foreach (var response in new[] { unknownIssuer, unknownKid, badSignature })
        {
            Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode);
            descriptions.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error_description").GetString()!);
        }

        Assert.AreEqual(1, descriptions.Distinct().Count(), string.Join(" | ", descriptions));

        for (var i = 0; i < 50; i++)
        {
            await _app.PostLogoutAsync("not-a-token-" + i);
        }

        var loud = _app.Logs.Entries.Count(e => e.Category.StartsWith("AutoSignOut", StringComparison.Ordinal) && e.Level >= LogLevel.Warning);
        Assert.IsTrue(loud <= 1, $"{loud} entries at Warning or above for 53 rejected requests");
    }

    /// <summary>A store whose first revocation fails, as a shared store that is briefly unreachable.</summary>
    private sealed class FailingOnceStore : IRevokedSessionStore
    {
        private readonly InMemoryRevokedSessionStore _inner = new(Microsoft.Extensions.Options.Options.Create(new AutoSignOutOptions()), TimeProvider.System);
        private int _calls;

        public int Revocations { get; private set; }

        public ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt, CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                throw new IOException("store unreachable");
            }

            Revocations++;
            return _inner.RevokeAsync(issuer, keys, revokedAt, cancellationToken);
        }

        public bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt) => _inner.IsRevoked(issuer, keys, issuedAt);
    }
}
