using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.Testing;

/// <summary>
/// A stand-in OpenID Provider on loopback Kestrel: discovery, JWKS, an authorization-code flow that signs the user in
/// at once (the <c>login_hint</c>, else <see cref="SignedInUser"/>; answered by query or form_post as asked), and
/// logout and access tokens minted with its own RSA keys. Keys can be rotated; JWKS requests are counted.
/// </summary>
public sealed class TestOpenIdProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string User, string Nonce, string ClientId)> _codes = new();
    private int _jwksRequests;

    private TestOpenIdProvider(WebApplication app, string issuer)
    {
        _app = app;
        Issuer = issuer;
    }

    public string Issuer { get; }

    public RSA Key { get; private set; } = RSA.Create(2048);

    public string KeyId { get; private set; } = "key-1";

    /// <summary>A key the provider does not publish.</summary>
    public RSA UnpublishedKey { get; } = RSA.Create(2048);

    public int JwksRequests => Volatile.Read(ref _jwksRequests);

    public static async Task<TestOpenIdProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        TestOpenIdProvider? provider = null;
        app.MapGet("/.well-known/openid-configuration", (HttpContext context) => Results.Json(new JsonObject
        {
            ["issuer"] = provider!.Issuer,
            ["jwks_uri"] = provider.Issuer + "/jwks",
            ["authorization_endpoint"] = provider.Issuer + "/authorize",
            ["token_endpoint"] = provider.Issuer + "/token",
            ["response_types_supported"] = new JsonArray("code"),
            ["subject_types_supported"] = new JsonArray("public"),
            ["id_token_signing_alg_values_supported"] = new JsonArray("RS256"),
            ["backchannel_logout_supported"] = true,
            ["backchannel_logout_session_supported"] = true,
        }));

        // A bare authorization-code flow for the OpenID Connect handler: the user is always signed in, no password.
        app.MapGet("/authorize", (HttpContext context) =>
        {
            var query = context.Request.Query;
            var code = Guid.NewGuid().ToString("N");
            var user = query["login_hint"] is { Count: 1 } hint && hint[0] is { Length: > 0 } ? hint[0]! : provider!.SignedInUser;
            provider!._codes[code] = (user, query["nonce"].ToString(), query["client_id"].ToString());
            var redirectUri = query["redirect_uri"].ToString();
            var state = query["state"].ToString();
            if (query["response_mode"] == "form_post")
            {
                return Results.Content(
                    $"""<html><body onload="document.forms[0].submit()"><form method="post" action="{WebUtility.HtmlEncode(redirectUri)}"><input type="hidden" name="code" value="{code}"><input type="hidden" name="state" value="{WebUtility.HtmlEncode(state)}"></form></body></html>""",
                    "text/html");
            }

            return Results.Redirect($"{redirectUri}?code={code}&state={Uri.EscapeDataString(state)}");
        });
        app.MapPost("/token", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            if (!provider!._codes.TryRemove(form["code"].ToString(), out var grant))
            {
                return Results.BadRequest(new { error = "invalid_grant" });
            }

            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var idToken = TestJwt.Encode(
                new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = provider.KeyId },
                new JsonObject
                {
                    ["iss"] = provider.Issuer,
                    ["aud"] = grant.ClientId,
                    ["sub"] = grant.User,
                    ["sid"] = SessionIdOf(grant.User),
                    ["name"] = DisplayNameOf(grant.User),
                    ["nonce"] = grant.Nonce,
                    ["iat"] = now,
                    ["exp"] = now + 300,
                },
                TestJwt.Rs256(provider.Key));
            var accessToken = provider.Sign(new JsonObject { ["aud"] = provider.AccessTokenAudience, ["sub"] = grant.User, ["sid"] = SessionIdOf(grant.User) });
            return Results.Json(new JsonObject { ["id_token"] = idToken, ["access_token"] = accessToken, ["token_type"] = "Bearer", ["expires_in"] = 300 });
        });
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref provider!._jwksRequests);
            var p = provider.Key.ExportParameters(false);
            return Results.Json(new JsonObject
            {
                ["keys"] = new JsonArray(new JsonObject
                {
                    ["kty"] = "RSA",
                    ["use"] = "sig",
                    ["alg"] = "RS256",
                    ["kid"] = provider.KeyId,
                    ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                    ["e"] = Base64UrlEncoder.Encode(p.Exponent),
                }),
            });
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        provider = new TestOpenIdProvider(app, address.TrimEnd('/'));
        return provider;
    }

    /// <summary>The user signed in by an authorization request without a <c>login_hint</c>.</summary>
    public string SignedInUser { get; set; } = "dave";

    /// <summary>The audience of the access tokens the token endpoint issues.</summary>
    public string AccessTokenAudience { get; set; } = "api";

    /// <summary>The OP session id the provider gives a user's sign-in.</summary>
    public static string SessionIdOf(string user) => "op-session-" + user;

    /// <summary>The display name (<c>name</c> claim) of a user: the user name, capitalized.</summary>
    public static string DisplayNameOf(string user) => char.ToUpperInvariant(user[0]) + user[1..];

    /// <summary>Signs <paramref name="claims"/> with the current key, adding <c>iss</c>, <c>iat</c>, <c>exp</c> and <c>jti</c> where absent.</summary>
    public string Sign(JsonObject claims, string type = "JWT")
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        claims["iss"] ??= Issuer;
        claims["iat"] ??= now;
        claims["exp"] ??= now + 300;
        claims["jti"] ??= Guid.NewGuid().ToString("N");
        return TestJwt.Encode(new JsonObject { ["alg"] = "RS256", ["typ"] = type, ["kid"] = KeyId }, claims, TestJwt.Rs256(Key));
    }

    /// <summary>Replaces the signing key with a new one under a new kid.</summary>
    public void RotateKey()
    {
        Key = RSA.Create(2048);
        KeyId = "key-" + Guid.NewGuid().ToString("N")[..8];
    }

    public JsonObject LogoutHeader() => new() { ["alg"] = "RS256", ["typ"] = "logout+jwt", ["kid"] = KeyId };

    public JsonObject LogoutPayload(string audience, string? sub = "alice", string? sid = null, DateTimeOffset? now = null)
    {
        var iat = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = audience,
            ["iat"] = iat,
            ["exp"] = iat + 120,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = new JsonObject() },
        };
        if (sub is not null)
        {
            payload["sub"] = sub;
        }

        if (sid is not null)
        {
            payload["sid"] = sid;
        }

        return payload;
    }

    /// <summary>A valid logout token for <paramref name="audience"/>, with optional edits to header and payload.</summary>
    public string LogoutToken(string audience, string? sub = "alice", string? sid = null, Action<JsonObject>? editHeader = null, Action<JsonObject>? editPayload = null)
    {
        var header = LogoutHeader();
        var payload = LogoutPayload(audience, sub, sid);
        editHeader?.Invoke(header);
        editPayload?.Invoke(payload);
        return TestJwt.Encode(header, payload, TestJwt.Rs256(Key));
    }

    /// <summary>An access token for the test API, with <c>sub</c>, <c>sid</c> and a fresh <c>jti</c>.</summary>
    public string AccessToken(string sub, string? sid, out string jti, string audience = "api")
    {
        jti = Guid.NewGuid().ToString("N");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = Issuer,
            ["aud"] = audience,
            ["sub"] = sub,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 3600,
            ["jti"] = jti,
            ["scope"] = "api",
        };
        if (sid is not null)
        {
            payload["sid"] = sid;
        }

        return TestJwt.Encode(new JsonObject { ["alg"] = "RS256", ["typ"] = "at+jwt", ["kid"] = KeyId }, payload, TestJwt.Rs256(Key));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Key.Dispose();
        UnpublishedKey.Dispose();
    }
}
