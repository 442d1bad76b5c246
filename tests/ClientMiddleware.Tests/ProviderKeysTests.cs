using System.Net;
using System.Security.Cryptography;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>
/// The provider's keys and issuer under attack and under rotation: an anonymous caller must not be able to freeze or
/// flood the key cache, a rotation must not lose a logout, and only the algorithms and keys the provider uses verify.
/// </summary>
[TestClass]
public sealed class ProviderKeysTests
{
    private TestOpenIdProvider _op = null!;
    private TestClientApp _app = null!;
    private FakeTimeProvider _time = null!;

    [TestInitialize]
    public async Task StartAsync()
    {
        _op = await TestOpenIdProvider.StartAsync();
        _time = new FakeTimeProvider(DateTimeOffset.UtcNow);
    }

    [TestCleanup]
    public async Task StopAsync()
    {
        _op.DiscoveryGate?.TrySetResult();
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        await _op.DisposeAsync();
    }

    private async Task StartAppAsync(Action<AutoSignOutOptions>? configure = null) =>
        _app = await TestClientApp.StartAsync(_op, configure, s => s.AddSingleton<TimeProvider>(_time));

    /// <summary>A valid token minted now on the app's (fake) clock.</summary>
    private string Genuine() => TestJwt.Encode(_op.LogoutHeader(), _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1", _time.GetUtcNow()), TestJwt.Rs256(_op.Key));

    private string BogusKid(string kid)
    {
        var header = _op.LogoutHeader();
        header["kid"] = kid;
        return TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", "s-1", _time.GetUtcNow()), TestJwt.Rs256(_op.UnpublishedKey));
    }

    private async Task<HttpStatusCode> PostAsync(string token) => (await _app.PostLogoutAsync(token)).StatusCode;

    // Item 6
    [TestMethod]
    public async Task A_request_aborted_mid_refresh_cannot_cancel_it_so_the_next_rotation_still_lands()
    {
        await StartAppAsync();
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        _time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);

        _op.RotateKey();
        _op.DiscoveryGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var attack = _app.PostLogoutAbortedAsync(BogusKid("bogus"), _op.DiscoveryEntered);
        await _op.DiscoveryEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Assert.ThrowsAsync<HttpRequestException>(() => attack);

        // Let an abort that propagates to the refresh reach the provider before the provider answers.
        await Task.WhenAny(_op.DiscoveryAborted.Task, Task.Delay(1000));
        var gate = _op.DiscoveryGate;
        _op.DiscoveryGate = null;
        gate.SetResult();

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()), "the refresh finished and brought the new key");
    }

    // Item 6: a read under way is joined, not a reason to refuse (its time counts from its completion).
    [TestMethod]
    public async Task A_logout_that_arrives_during_a_key_read_waits_for_it_instead_of_being_refused()
    {
        await StartAppAsync();
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        _time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);
        _op.RotateKey();
        _op.DiscoveryGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // An anonymous bogus kid starts a read that the provider is slow to answer; the provider's logout comes meanwhile.
        var bogus = PostAsync(BogusKid("bogus"));
        await _op.DiscoveryEntered.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var genuine = PostAsync(Genuine());
        await Task.Delay(300); // lets the logout reach the key check before the provider answers (no assertion depends on it)
        var gate = _op.DiscoveryGate;
        _op.DiscoveryGate = null;
        gate.SetResult();

        Assert.AreEqual(HttpStatusCode.OK, await genuine);
        Assert.AreEqual(HttpStatusCode.BadRequest, await bogus);
    }

    // Item 7
    [TestMethod]
    public async Task A_key_rotated_right_after_a_fetch_gets_one_refetch_and_a_flood_of_bogus_kids_gets_none()
    {
        await StartAppAsync();
        Assert.AreEqual(1, _op.JwksRequests, "read at start");
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        Assert.AreEqual(1, _op.JwksRequests);

        _op.RotateKey();
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()), "the first token under the new kid refetches at once");
        Assert.AreEqual(2, _op.JwksRequests);

        for (var i = 0; i < 30; i++)
        {
            Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(BogusKid("bogus-" + i)));
        }

        Assert.AreEqual(2, _op.JwksRequests, "at most one extra fetch per interval");
    }

    // Item 8
    [TestMethod]
    public async Task With_the_provider_down_and_no_keys_requests_do_not_each_fetch()
    {
        _op.Available = false;
        await StartAppAsync();
        for (var i = 0; i < 20; i++)
        {
            Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(Genuine()));
        }

        // One read, at start (IdentityModel's retriever itself retries a 503 once).
        Assert.IsTrue(_op.DiscoveryRequests <= 2, $"{_op.DiscoveryRequests} discovery requests");

        _op.Available = true;
        _time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()), "after the back-off the keys are read again");
    }

    // Item 8
    [TestMethod]
    public async Task A_failed_periodic_refresh_keeps_using_the_keys_it_has()
    {
        await StartAppAsync();
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        _time.Advance(AutoSignOutDefaults.AutomaticKeyRefreshInterval + TimeSpan.FromMinutes(1));
        _op.Available = false;

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        var fetches = _op.DiscoveryRequests;
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        Assert.AreEqual(fetches, _op.DiscoveryRequests, "a failed refresh is not retried by every request");
    }

    // Item 8
    [TestMethod]
    public async Task A_pinned_key_without_kid_does_not_stop_the_refresh_for_an_unknown_kid()
    {
        using var pinned = RSA.Create(2048);
        await StartAppAsync(o => o.Providers[0].SigningKeys.Add(new RsaSecurityKey(pinned.ExportParameters(false))));
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
        _op.RotateKey();
        _time.Advance(AutoSignOutDefaults.MinimumKeyRefreshInterval);

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(Genuine()));
    }

    // Item 9
    [TestMethod]
    public async Task An_algorithm_the_provider_does_not_list_is_refused()
    {
        _op.JwkAlgorithm = null;
        await StartAppAsync();
        var header = _op.LogoutHeader();
        header["alg"] = "PS256";
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId), TestJwt.Ps256(_op.Key))));

        _op.SigningAlgorithms = ["RS256", "PS256"];
        await _app.DisposeAsync();
        await StartAppAsync();
        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId), TestJwt.Ps256(_op.Key))), "listed, so accepted");
    }

    // Item 9
    [TestMethod]
    public async Task A_key_verifies_only_its_own_alg()
    {
        _op.SigningAlgorithms = ["RS256", "PS256"];
        _op.JwkAlgorithm = "RS256";
        await StartAppAsync();
        var header = _op.LogoutHeader();
        header["alg"] = "PS256";
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId), TestJwt.Ps256(_op.Key))));
    }

    // Item 9
    [TestMethod]
    public async Task An_RSA_key_under_2048_bits_is_refused()
    {
        _op.UseKey(RSA.Create(1024), "small");
        await StartAppAsync();
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(Genuine()));
    }

    // Item 11
    [TestMethod]
    public async Task The_discovered_issuer_is_matched_even_with_a_trailing_slash_and_the_difference_is_logged_at_start()
    {
        _op.TokenIssuer = _op.Issuer + "/";
        _app = await TestClientApp.StartAsync(_op);
        using var alice = _app.CreateBrowser();
        await alice.SignInWithOpenIdConnectAsync("alice");
        await using var hub = await alice.ConnectAsync();

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", TestOpenIdProvider.SessionIdOf("alice"))));

        await hub.AssertClosedAsync();
        Assert.IsTrue(_app.Logs.Entries.Any(e => e.Level >= LogLevel.Information && e.Message.Contains(_op.TokenIssuer, StringComparison.Ordinal) && e.Message.Contains("differs", StringComparison.Ordinal)),
            "the difference is said at start");
        Assert.AreEqual(HttpStatusCode.BadRequest, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s", editPayload: p => p["iss"] = _op.Issuer)),
            "the configured address is not the issuer");
    }

    // Item 11
    [TestMethod]
    public async Task An_issuer_that_differs_from_the_authority_is_matched_on_discovery()
    {
        _op.TokenIssuer = "https://login.example.test/tenant";
        _app = await TestClientApp.StartAsync(_op);
        await using var hub = await _app.ConnectWithTokenAsync(_op.AccessToken("alice", "s-other", out _));

        Assert.AreEqual(HttpStatusCode.OK, await PostAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-other")));

        await hub.AssertClosedAsync();
    }
}
