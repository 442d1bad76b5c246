using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore.Tests.Infrastructure;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>
/// OIDC Back-Channel Logout 1.0 §2.6, rule by rule: each test breaks one rule of an otherwise valid logout token
/// aimed at a live session, and asserts a 400 (or 405/415) with no-store and that the session's connection is still open.
/// </summary>
[TestClass]
public sealed class BackChannelLogoutValidationTests
{
    private const string Sid = "victim-session";
    private static TestOpenIdProvider _op = null!;
    private static TestClientApp _app = null!;
    private static TestClientApp.Browser _browser = null!;
    private static HubClient _victim = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        _op = await TestOpenIdProvider.StartAsync();
        _app = await TestClientApp.StartAsync(_op);
        _browser = _app.CreateBrowser();
        await _browser.SignInAsync("alice", Sid);
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        _browser.Dispose();
        await _app.DisposeAsync();
        await _op.DisposeAsync();
    }

    [TestInitialize]
    public async Task ConnectVictimAsync()
    {
        if (_victim is null || !_victim.IsOpen)
        {
            _victim = await _browser.ConnectAsync();
        }
    }

    private static string Token(Action<JsonObject>? header = null, Action<JsonObject>? payload = null) =>
        _op.LogoutToken(TestClientApp.ClientId, "alice", Sid, header, payload);

    private static string Sign(JsonObject header, JsonObject payload) => TestJwt.Encode(header, payload, TestJwt.Rs256(_op.Key));

    private static async Task AssertRefusedAsync(HttpResponseMessage response, HttpStatusCode expected = HttpStatusCode.BadRequest)
    {
        Assert.AreEqual(expected, response.StatusCode);
        Assert.IsTrue(response.Headers.CacheControl?.NoStore, "Cache-Control: no-store");
        Assert.AreEqual("application/json", response.Content.Headers.ContentType?.MediaType);
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.IsFalse(string.IsNullOrEmpty(json.RootElement.GetProperty("error").GetString()));
        Assert.IsFalse(string.IsNullOrEmpty(json.RootElement.GetProperty("error_description").GetString()));
        await _victim.AssertAliveAsync();
        Assert.IsFalse(_victim.ReceivedSignedOut, "no sign-out message may reach the client");
        Assert.AreEqual(HttpStatusCode.OK, (await _browser.GetMeAsync()).StatusCode, "the session's cookie still works");
    }

    private static async Task AssertTokenRefusedAsync(string token) => await AssertRefusedAsync(await _app.PostLogoutAsync(token));

    [TestMethod]
    public async Task Alg_none_is_refused()
    {
        var header = new JsonObject { ["alg"] = "none", ["typ"] = "logout+jwt" };
        await AssertTokenRefusedAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), sign: null));
    }

    [TestMethod]
    public async Task HS256_keyed_with_the_providers_public_key_is_refused()
    {
        // The classic key-confusion attack: an HMAC "signed" with the RSA public key everyone can download.
        var publicKey = Encoding.ASCII.GetBytes(_op.Key.ExportSubjectPublicKeyInfoPem());
        var header = new JsonObject { ["alg"] = "HS256", ["typ"] = "logout+jwt", ["kid"] = _op.KeyId };
        await AssertTokenRefusedAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), TestJwt.Hs256(publicKey)));
        var der = _op.Key.ExportSubjectPublicKeyInfo();
        await AssertTokenRefusedAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), TestJwt.Hs256(der)));
    }

    [TestMethod]
    public async Task An_algorithm_outside_the_allow_list_is_refused()
    {
        var header = new JsonObject { ["alg"] = "HS384", ["typ"] = "logout+jwt" };
        await AssertTokenRefusedAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), TestJwt.Hs384(RandomNumberGenerator.GetBytes(48))));
    }

    [TestMethod]
    public async Task A_bad_signature_is_refused()
    {
        var token = Token();
        var parts = token.Split('.');
        var tampered = _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid);
        tampered["sub"] = "mallory";
        var forged = parts[0] + "." + Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(tampered.ToJsonString()) + "." + parts[2];
        await AssertTokenRefusedAsync(forged);
    }

    [TestMethod]
    public async Task A_token_signed_with_an_unpublished_key_under_an_unknown_kid_is_refused()
    {
        var header = _op.LogoutHeader();
        header["kid"] = "unknown-kid";
        await AssertTokenRefusedAsync(TestJwt.Encode(header, _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), TestJwt.Rs256(_op.UnpublishedKey)));
    }

    [TestMethod]
    public async Task A_token_signed_with_an_unpublished_key_under_a_known_kid_is_refused() =>
        await AssertTokenRefusedAsync(TestJwt.Encode(_op.LogoutHeader(), _op.LogoutPayload(TestClientApp.ClientId, "alice", Sid), TestJwt.Rs256(_op.UnpublishedKey)));

    [TestMethod]
    public async Task A_wrong_issuer_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["iss"] = "https://evil.example"));

    [TestMethod]
    public async Task The_providers_issuer_with_a_trailing_slash_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["iss"] = _op.Issuer + "/"));

    [TestMethod]
    public async Task A_wrong_audience_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["aud"] = "another-client"));

    [TestMethod]
    public async Task An_expired_token_is_refused() => await AssertTokenRefusedAsync(Token(payload: p =>
    {
        var past = DateTimeOffset.UtcNow.AddMinutes(-10).ToUnixTimeSeconds();
        p["iat"] = past;
        p["exp"] = past + 120;
    }));

    [TestMethod]
    public async Task An_iat_far_in_the_future_is_refused() => await AssertTokenRefusedAsync(Token(payload: p =>
    {
        var future = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds();
        p["iat"] = future;
        p["exp"] = future + 120;
    }));

    [TestMethod]
    public async Task A_token_without_iat_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p.Remove("iat")));

    [TestMethod]
    public async Task A_token_without_exp_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p.Remove("exp")));

    [TestMethod]
    public async Task A_token_not_valid_before_a_future_nbf_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["nbf"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds()));

    [TestMethod]
    public async Task A_token_without_jti_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p.Remove("jti")));

    [TestMethod]
    public async Task A_token_without_events_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p.Remove("events")));

    [TestMethod]
    public async Task A_token_with_another_event_is_refused() => await AssertTokenRefusedAsync(Token(payload: p =>
        p["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout-other"] = new JsonObject() }));

    [TestMethod]
    public async Task An_event_whose_value_is_not_an_object_is_refused()
    {
        await AssertTokenRefusedAsync(Token(payload: p => p["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = "{}" }));
        await AssertTokenRefusedAsync(Token(payload: p => p["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = true }));
        await AssertTokenRefusedAsync(Token(payload: p => p["events"] = new JsonArray("http://schemas.openid.net/event/backchannel-logout")));
    }

    [TestMethod]
    public async Task A_nonce_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["nonce"] = "n-0S6_WzA2Mj"));

    [TestMethod]
    public async Task A_token_with_neither_sub_nor_sid_is_refused() => await AssertTokenRefusedAsync(Token(payload: p =>
    {
        p.Remove("sub");
        p.Remove("sid");
    }));

    [TestMethod]
    public async Task A_sid_that_is_not_a_string_is_refused() => await AssertTokenRefusedAsync(Token(payload: p => p["sid"] = new JsonArray(Sid)));

    [TestMethod]
    public async Task An_access_token_typed_at_jwt_is_refused() => await AssertTokenRefusedAsync(Token(header: h => h["typ"] = "at+jwt"));

    [TestMethod]
    public async Task An_id_token_typed_as_jwt_with_another_media_type_is_refused() => await AssertTokenRefusedAsync(Token(header: h => h["typ"] = "application/secevent+jwt"));

    [TestMethod]
    public async Task A_replayed_jti_is_refused_and_has_no_second_effect()
    {
        // First use: a token for another session of alice's, so the victim is untouched by the legitimate delivery.
        await using var other = await ConnectOtherSessionAsync("replay-target");
        var token = _op.LogoutToken(TestClientApp.ClientId, "alice", "replay-target");
        var first = await _app.PostLogoutAsync(token);
        Assert.AreEqual(HttpStatusCode.OK, first.StatusCode);
        await other.AssertClosedAsync();

        // The same bytes again, and the same jti in a token now aimed at the victim's session: both refused.
        await AssertTokenRefusedAsync(token);
        using var original = JsonDocument.Parse(Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(token.Split('.')[1]));
        var jti = original.RootElement.GetProperty("jti").GetString();
        await AssertTokenRefusedAsync(Token(payload: p => p["jti"] = jti));
    }

    [TestMethod]
    public async Task A_malformed_jwt_is_refused()
    {
        await AssertTokenRefusedAsync("not-a-jwt");
        await AssertTokenRefusedAsync("a.b.c");
        await AssertTokenRefusedAsync(Token() + ".extra");
        await AssertTokenRefusedAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes("{\"alg\":\"RS256\"}")) + "..");
    }

    [TestMethod]
    public async Task An_oversized_body_is_refused()
    {
        using var client = new HttpClient();
        var huge = new string('a', 200 * 1024);
        await AssertRefusedAsync(await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath,
            new FormUrlEncodedContent([new("logout_token", Token()), new("padding", huge)])));
    }

    [TestMethod]
    public async Task An_oversized_chunked_body_is_refused_without_being_read()
    {
        using var client = new HttpClient();
        var content = new StreamContent(new EndlessFormStream());
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/x-www-form-urlencoded");
        using var request = new HttpRequestMessage(HttpMethod.Post, _app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        HttpResponseMessage? response = null;
        try
        {
            response = await client.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The server may close the connection on the unread remainder; then it still must not have signed anyone out.
        }

        if (response is not null)
        {
            await AssertRefusedAsync(response);
        }
        else
        {
            await _victim.AssertAliveAsync();
        }
    }

    [TestMethod]
    public async Task A_GET_is_refused_with_405()
    {
        using var client = new HttpClient();
        var response = await client.GetAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath + "?logout_token=" + Token());
        Assert.IsTrue(response.Content.Headers.Allow.Contains("POST"));
        await AssertRefusedAsync(response, HttpStatusCode.MethodNotAllowed);
    }

    [TestMethod]
    public async Task A_json_body_is_refused_with_415()
    {
        using var client = new HttpClient();
        var response = await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath,
            new StringContent(JsonSerializer.Serialize(new { logout_token = Token() }), Encoding.UTF8, "application/json"));
        await AssertRefusedAsync(response, HttpStatusCode.UnsupportedMediaType);
    }

    [TestMethod]
    public async Task A_multipart_body_is_refused_with_415()
    {
        using var client = new HttpClient();
        using var form = new MultipartFormDataContent { { new StringContent(Token()), "logout_token" } };
        await AssertRefusedAsync(await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath, form), HttpStatusCode.UnsupportedMediaType);
    }

    [TestMethod]
    public async Task Two_logout_token_values_are_refused()
    {
        using var client = new HttpClient();
        await AssertRefusedAsync(await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath,
            new FormUrlEncodedContent([new("logout_token", Token()), new("logout_token", Token())])));
    }

    [TestMethod]
    public async Task A_missing_or_empty_logout_token_is_refused()
    {
        using var client = new HttpClient();
        await AssertRefusedAsync(await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath, new FormUrlEncodedContent([new("token", Token())])));
        await AssertRefusedAsync(await client.PostAsync(_app.BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath, new FormUrlEncodedContent([new("logout_token", string.Empty)])));
    }

    [TestMethod]
    public async Task An_encrypted_token_is_refused() =>
        await AssertTokenRefusedAsync("eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn");

    private static async Task<HubClient> ConnectOtherSessionAsync(string sid)
    {
        using var browser = _app.CreateBrowser();
        await browser.SignInAsync("alice", sid);
        return await browser.ConnectAsync();
    }

    /// <summary>An endless form body: the server must stop reading at its limit.</summary>
    private sealed class EndlessFormStream : Stream
    {
        private long _sent;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _sent; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            // Stop after 16 MiB so a broken server cannot make the test run forever.
            if (_sent > 16 * 1024 * 1024)
            {
                return 0;
            }

            var prefix = _sent == 0 ? "logout_token="u8.ToArray() : [];
            prefix.CopyTo(buffer, offset);
            Array.Fill(buffer, (byte)'a', offset + prefix.Length, count - prefix.Length);
            _sent += count;
            return count;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
