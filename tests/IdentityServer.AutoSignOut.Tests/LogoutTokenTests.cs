using System.Text.Json;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer.Tests;

[TestClass]
public sealed class LogoutTokenTests
{
    [TestMethod]
    public async Task Minted_token_follows_back_channel_logout_1_0_and_carries_reason_and_revoked_token_ids()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", new Uri("https://client1.test/bcl"))), start: false);

        var notifications = await engine.Server.CreateNotificationsAsync(new Revocation
        {
            Subject = "alice",
            SessionId = "session-1",
            RevokedTokenIds = ["at-1", "rt-2"],
            Reason = RevocationReasons.TokenRevoked,
        });

        var raw = notifications.Single().LogoutToken!;
        var validation = await new JsonWebTokenHandler().ValidateTokenAsync(raw, new TokenValidationParameters
        {
            ValidIssuer = TestKeys.Issuer,
            ValidAudience = "client1",
            IssuerSigningKey = TestKeys.PublicKey,
            ValidTypes = ["logout+jwt"],
            LifetimeValidator = (_, _, _, _) => true,
        });
        Assert.IsTrue(validation.IsValid, validation.Exception?.Message);
        var token = (JsonWebToken)validation.SecurityToken;
        Assert.AreEqual("logout+jwt", token.Typ);
        Assert.AreEqual("RS256", token.Alg);
        Assert.AreEqual("idp-key-1", token.Kid);
        Assert.AreEqual("alice", token.Subject);
        Assert.AreEqual("session-1", token.GetClaim("sid").Value);
        Assert.AreEqual(time.GetUtcNow().ToUnixTimeSeconds(), token.GetPayloadValue<long>("iat"));
        Assert.AreEqual(120, token.GetPayloadValue<long>("exp") - token.GetPayloadValue<long>("iat"));
        Assert.IsFalse(string.IsNullOrEmpty(token.Id));
        Assert.IsFalse(token.TryGetPayloadValue<object>("nonce", out _));
        Assert.AreEqual("token_revoked", token.GetClaim("reason").Value);

        using var payload = JsonDocument.Parse(Base64UrlEncoder.Decode(token.EncodedPayload));
        var events = payload.RootElement.GetProperty("events");
        Assert.AreEqual(JsonValueKind.Object, events.GetProperty("http://schemas.openid.net/event/backchannel-logout").ValueKind);
        Assert.AreEqual(0, events.GetProperty("http://schemas.openid.net/event/backchannel-logout").EnumerateObject().Count());
        var revoked = payload.RootElement.GetProperty("revoked_jti");
        CollectionAssert.AreEqual(new[] { "at-1", "rt-2" }, revoked.EnumerateArray().Select(e => e.GetString()).ToArray());
    }

    [TestMethod]
    public async Task Every_minted_token_has_its_own_jti()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false);
        var factory = engine.Services.GetRequiredService<LogoutTokenFactory>();
        var notification = new LogoutNotification { ClientId = "client1", Endpoint = new Uri("https://client1.test/bcl"), Subject = "alice" };

        var first = await factory.CreateAsync(notification, CancellationToken.None);
        var second = await factory.CreateAsync(notification, CancellationToken.None);

        Assert.AreNotEqual(first.TokenId, second.TokenId);
    }

    [TestMethod]
    public async Task Sign_out_everywhere_names_the_subject_and_no_session()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", new Uri("https://client1.test/bcl"))), start: false);

        var notification = (await engine.Server.CreateNotificationsAsync(new Revocation { Subject = "alice", Reason = RevocationReasons.SignOutEverywhere })).Single();

        var token = new JsonWebToken(notification.LogoutToken!);
        Assert.AreEqual("alice", token.Subject);
        Assert.IsFalse(token.TryGetClaim("sid", out _));
        Assert.IsFalse(token.TryGetClaim("revoked_jti", out _));
    }

    [TestMethod]
    public async Task Client_that_requires_a_session_id_is_skipped_when_none_is_known()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient("needs-sid", new Uri("https://a.test/bcl"), RequiresSessionId: true));
            o.Clients.Add(new LogoutRecipient("plain", new Uri("https://b.test/bcl")));
        }, start: false);

        var notifications = await engine.Server.CreateNotificationsAsync(new Revocation { Subject = "alice" });

        CollectionAssert.AreEqual(new[] { "plain" }, notifications.Select(n => n.ClientId).ToArray());
    }

    [TestMethod]
    public async Task Revocation_without_subject_or_session_is_refused()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false);

        await Assert.ThrowsExactlyAsync<ArgumentException>(() => engine.Server.RevokeAsync(new Revocation { Reason = "x" }));
    }

    [TestMethod]
    public async Task Token_lifetime_over_two_minutes_is_refused_when_the_host_starts()
    {
        var time = EngineHost.NewClock();

        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(
            () => EngineHost.CreateAsync(time, o => o.LogoutTokenLifetime = TimeSpan.FromMinutes(5)));

        StringAssert.Contains(error.Message, "LogoutTokenLifetime");
    }

    [TestMethod]
    public async Task Missing_signing_key_is_refused_when_the_host_starts()
    {
        var time = EngineHost.NewClock();

        await Assert.ThrowsExactlyAsync<OptionsValidationException>(
            () => EngineHost.CreateAsync(time, o => o.SigningCredentials = null));
    }
}
