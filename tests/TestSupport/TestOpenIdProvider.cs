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
    private int _discoveryRequests;

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

    /// <summary>How many discovery documents were served or refused.</summary>
    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    /// <summary>Whether discovery and JWKS answer; <see langword="false"/> makes them answer 503, as an OP that is down.</summary>
    public bool Available { get; set; } = true;

    /// <summary>When set, discovery requests wait for it (a slow OP); <see cref="DiscoveryEntered"/> completes when one is waiting.</summary>
    public TaskCompletionSource? DiscoveryGate { get; set; }

    /// <summary>Completes when a discovery request reaches <see cref="DiscoveryGate"/>.</summary>
    public TaskCompletionSource DiscoveryEntered { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when a discovery request waiting at <see cref="DiscoveryGate"/> was aborted by its caller.</summary>
    public TaskCompletionSource DiscoveryAborted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The <c>iss</c> of discovery and of every token this provider makes. Default: <see cref="Issuer"/>, its base address.</summary>
    public string TokenIssuer { get => _tokenIssuer ?? Issuer; set => _tokenIssuer = value; }

    private string? _tokenIssuer;

    /// <summary>Whether ID tokens carry a <c>sid</c> (it is optional). Default: <see langword="true"/>.</summary>
    public bool IdTokenHasSessionId { get; set; } = true;

    /// <summary>The <c>id_token_signing_alg_values_supported</c> of discovery; <see langword="null"/> leaves it out.</summary>
    public string[]? SigningAlgorithms { get; set; } = ["RS256"];

    /// <summary>The <c>alg</c> of the published JWK; <see langword="null"/> leaves it out.</summary>
    public string? JwkAlgorithm { get; set; } = "RS256";

    public static async Task<TestOpenIdProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        TestOpenIdProvider? provider = null;
        app.MapGet("/.well-known/openid-configuration", async (HttpContext context) =>
        {
            Interlocked.Increment(ref provider!._discoveryRequests);
            if (provider.DiscoveryGate is { } gate)
            {
                provider.DiscoveryEntered.TrySetResult();
                try
                {
                    await gate.Task.WaitAsync(context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    provider.DiscoveryAborted.TrySetResult();
                    return Results.Empty;
                }
            }

            if (!provider.Available)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            var document = new JsonObject
            {
                ["issuer"] = provider.TokenIssuer,
                ["jwks_uri"] = provider.Issuer + "/jwks",
                ["authorization_endpoint"] = provider.Issuer + "/authorize",
                ["token_endpoint"] = provider.Issuer + "/token",
                ["response_types_supported"] = new JsonArray("code"),
                ["subject_types_supported"] = new JsonArray("public"),
                ["backchannel_logout_supported"] = true,
                ["backchannel_logout_session_supported"] = true,
            };
            if (provider.SigningAlgorithms is { } algorithms)
            {
                document["id_token_signing_alg_values_supported"] = new JsonArray([.. algorithms.Select(a => (JsonNode)a)]);
            }

            return Results.Json(document);
        });

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
            var idClaims = new JsonObject
            {
                ["iss"] = provider.TokenIssuer,
                ["aud"] = grant.ClientId,
                ["sub"] = grant.User,
                ["sid"] = SessionIdOf(grant.User),
                ["name"] = DisplayNameOf(grant.User),
                ["nonce"] = grant.Nonce,
                ["iat"] = now,
                ["exp"] = now + 300,
            };
            if (!provider.IdTokenHasSessionId)
            {
                idClaims.Remove("sid");
            }

            var idToken = TestJwt.Encode(new JsonObject { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = provider.KeyId }, idClaims, TestJwt.Rs256(provider.Key));
            var accessToken = provider.Sign(new JsonObject { ["aud"] = provider.AccessTokenAudience, ["sub"] = grant.User, ["sid"] = SessionIdOf(grant.User) });
            return Results.Json(new JsonObject { ["id_token"] = idToken, ["access_token"] = accessToken, ["token_type"] = "Bearer", ["expires_in"] = 300 });
        });
        app.MapGet("/jwks", () =>
        {
            Interlocked.Increment(ref provider!._jwksRequests);
            if (!provider.Available)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            var p = provider.Key.ExportParameters(false);
            var jwk = new JsonObject
            {
                ["kty"] = "RSA",
                ["use"] = "sig",
                ["kid"] = provider.KeyId,
                ["n"] = Base64UrlEncoder.Encode(p.Modulus),
                ["e"] = Base64UrlEncoder.Encode(p.Exponent),
            };
            if (provider.JwkAlgorithm is { } alg)
            {
                jwk["alg"] = alg;
            }

            return Results.Json(new JsonObject { ["keys"] = new JsonArray(jwk) });
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
        claims["iss"] ??= TokenIssuer;
        claims["iat"] ??= now;
        claims["exp"] ??= now + 300;
        claims["jti"] ??= Guid.NewGuid().ToString("N");
        return TestJwt.Encode(new JsonObject { ["alg"] = "RS256", ["typ"] = type, ["kid"] = KeyId }, claims, TestJwt.Rs256(Key));
    }

    /// <summary>Replaces the signing key with a new one under a new kid.</summary>
    public void RotateKey() => UseKey(RSA.Create(2048), "key-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>Signs and publishes with <paramref name="key"/> under <paramref name="keyId"/> from now on.</summary>
    public void UseKey(RSA key, string keyId)
    {
        Key = key;
        KeyId = keyId;
    }

    public JsonObject LogoutHeader() => new() { ["alg"] = "RS256", ["typ"] = "logout+jwt", ["kid"] = KeyId };

    public JsonObject LogoutPayload(string audience, string? sub = "alice", string? sid = null, DateTimeOffset? now = null)
    {
        var iat = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = TokenIssuer,
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
    public string AccessToken(string? sub, string? sid, out string jti, string audience = "api", DateTimeOffset? issuedAt = null)
    {
        jti = Guid.NewGuid().ToString("N");
        var now = (issuedAt ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        var payload = new JsonObject
        {
            ["iss"] = TokenIssuer,
            ["aud"] = audience,
            ["iat"] = now,
            ["nbf"] = now,
            ["exp"] = now + 3600,
            ["jti"] = jti,
            ["scope"] = "api",
        };
        if (sub is not null)
        {
            payload["sub"] = sub;
        }

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
