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

namespace AutoSignOut.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A minimal OpenID Provider on loopback Kestrel: serves discovery and JWKS, and mints logout and access tokens
/// with its own RSA keys. Keys can be rotated; JWKS requests are counted.
/// </summary>
internal sealed class TestOpenIdProvider : IAsyncDisposable
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

        // A bare authorization-code flow for the OpenID Connect handler: the login_hint is the user, no password.
        app.MapGet("/authorize", (HttpContext context) =>
        {
            var query = context.Request.Query;
            var code = Guid.NewGuid().ToString("N");
            provider!._codes[code] = (query["login_hint"].ToString(), query["nonce"].ToString(), query["client_id"].ToString());
            return Results.Redirect($"{query["redirect_uri"]}?code={code}&state={Uri.EscapeDataString(query["state"].ToString())}");
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
                    ["nonce"] = grant.Nonce,
                    ["iat"] = now,
                    ["exp"] = now + 300,
                },
                TestJwt.Rs256(provider.Key));
            return Results.Json(new JsonObject { ["id_token"] = idToken, ["access_token"] = "opaque", ["token_type"] = "Bearer", ["expires_in"] = 300 });
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

    /// <summary>The OP session id the provider gives a user's sign-in.</summary>
    public static string SessionIdOf(string user) => "op-session-" + user;

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
    public string AccessToken(string sub, string? sid, out string jti, string audience = TestClientApp.ApiAudience)
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
