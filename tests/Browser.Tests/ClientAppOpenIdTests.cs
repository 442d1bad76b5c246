using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// The client app pointed at an OpenID Provider by configuration alone: a bearer token from the OP opens the chat hub
/// (<c>access_token</c> query over WebSockets), and the OP's back-channel logout token closes it and refuses it after.
/// The OP here is a stand-in on loopback that publishes discovery and keys and signs tokens; no browser is needed.
/// </summary>
[TestClass]
public sealed class ClientAppOpenIdTests
{
    private const string ClientId = "client-app";
    private const string ApiAudience = "chat-api";

    [TestMethod]
    public async Task A_bearer_chat_connection_is_closed_by_the_providers_back_channel_logout_and_its_token_refused_after()
    {
        await using var op = await SigningProvider.StartAsync();
        await using var app = await StartAppAsync(op.Issuer);
        var accessToken = op.Sign(new JsonObject
        {
            ["aud"] = ApiAudience,
            ["sub"] = "carol",
            ["sid"] = "op-session-1",
            ["name"] = "Carol",
        });

        var signedOut = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var chat = Chat(app.Address, accessToken);
        chat.On<string?>("signedOut", reason => signedOut.TrySetResult(reason));
        chat.Closed += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        await chat.StartAsync();
        await chat.InvokeAsync("Send", "hello over bearer");

        var logoutToken = op.Sign(
            new JsonObject
            {
                ["aud"] = ClientId,
                ["sid"] = "op-session-1",
                ["reason"] = "logout",
                ["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = new JsonObject() },
            },
            type: "logout+jwt");
        using var http = new HttpClient();
        var response = await http.PostAsync(app.Address + "/signout-backchannel", new FormUrlEncodedContent([new("logout_token", logoutToken)]));

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.AreEqual("logout", await signedOut.Task.WaitAsync(TimeSpan.FromSeconds(5)));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(5));
        await using var again = Chat(app.Address, accessToken);
        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => again.StartAsync());
        Assert.AreEqual(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    private static HubConnection Chat(string address, string accessToken) =>
        new HubConnectionBuilder()
            .WithUrl(address + "/hubs/chat", o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
            })
            .Build();

    private static async Task<RunningApp> StartAppAsync(string authority)
    {
        var app = ClientAppHost.Create(
            [
                "--urls=http://127.0.0.1:0", "--environment=Development", "--Logging:LogLevel:Default=Warning",
                $"--Oidc:Authority={authority}", $"--Oidc:ClientId={ClientId}", $"--Oidc:ApiAudience={ApiAudience}",
                "--Oidc:RequireHttpsMetadata=false",
            ]);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return new RunningApp(address, app);
    }

    private sealed record RunningApp(string Address, WebApplication App) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await App.StopAsync();
            await App.DisposeAsync();
        }
    }

    /// <summary>Publishes an issuer's discovery document and signing key on loopback, and signs its tokens.</summary>
    private sealed class SigningProvider : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly RsaSecurityKey _key;

        private SigningProvider(WebApplication app, RsaSecurityKey key, string issuer)
        {
            _app = app;
            _key = key;
            Issuer = issuer;
        }

        public string Issuer { get; }

        public static async Task<SigningProvider> StartAsync()
        {
            var key = new RsaSecurityKey(RSA.Create(2048)) { KeyId = "op-key" };
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            var app = builder.Build();
            var issuer = string.Empty;
            app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = issuer,
                ["jwks_uri"] = issuer + "/keys",
                ["authorization_endpoint"] = issuer + "/authorize",
                ["id_token_signing_alg_values_supported"] = new[] { SecurityAlgorithms.RsaSha256 },
            }));
            var publicKey = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
            app.MapGet("/keys", () => Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = publicKey.Kid, n = publicKey.N, e = publicKey.E } } }));
            await app.StartAsync();
            issuer = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
            return new SigningProvider(app, key, issuer);
        }

        public string Sign(JsonObject claims, string type = "JWT")
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            claims["iss"] = Issuer;
            claims["iat"] = now;
            claims["exp"] = now + 300;
            claims["jti"] = Guid.NewGuid().ToString("N");
            return new JsonWebTokenHandler().CreateToken(
                claims.ToJsonString(),
                new SigningCredentials(_key, SecurityAlgorithms.RsaSha256),
                new Dictionary<string, object> { [JwtHeaderParameterNames.Typ] = type });
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
