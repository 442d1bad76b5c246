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
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// The client app pointed at an OpenID Provider by configuration alone: OIDC sign-in in Chromium, a bearer token from
/// the OP for the chat hub (<c>access_token</c> query over WebSockets), and the OP's back-channel logout token closing
/// both. The OP is a stand-in on loopback (discovery, keys, an authorization that answers at once, a token endpoint);
/// the real OpenID Providers are the hosts' and the server plugin's work.
/// </summary>
[TestClass]
public sealed class ClientAppOpenIdTests
{
    private const string ClientId = "client-app";
    private const string ApiAudience = "chat-api";
    private const string BrowserUser = "dave";
    private const string BrowserSessionId = "op-session-browser";

    public TestContext TestContext { get; set; } = null!;

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

    [TestMethod]
    public async Task A_circuit_signed_in_at_the_provider_leaves_for_the_signed_out_page_on_the_providers_back_channel_logout()
    {
        if (!File.Exists(BrowserSession.ChromiumPath))
        {
            Assert.Inconclusive($"{BrowserSession.ChromiumPath} is missing: run eng/chromium.sh.");
        }

        await using var op = await SigningProvider.StartAsync();
        await using var app = await StartAppAsync(op.Issuer);
        var (playwright, browser) = await BrowserSession.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = app.Address });
        await page.GotoAsync("/sign-in?ReturnUrl=%2Flive");
        await page.GetByText("Sign in with the identity provider").ClickAsync();
        await page.WaitForURLAsync("**/live");
        await page.WaitForFunctionAsync("() => window.Blazor !== undefined");
        await Assertions.Expect(page.GetByTestId("live-user")).ToHaveTextAsync("Dave");
        await Assertions.Expect(page.GetByTestId("ticks")).Not.ToHaveTextAsync("0");

        var landed = page.WaitForURLAsync("**/signed-out?reason=logout", new() { Timeout = 5_000, WaitUntil = WaitUntilState.Commit });
        var logoutToken = op.Sign(
            new JsonObject
            {
                ["aud"] = ClientId,
                ["sub"] = BrowserUser,
                ["sid"] = BrowserSessionId,
                ["reason"] = "logout",
                ["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = new JsonObject() },
            },
            type: "logout+jwt");
        using var http = new HttpClient();
        var response = await http.PostAsync(app.Address + "/signout-backchannel", new FormUrlEncodedContent([new("logout_token", logoutToken)]));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await landed;
        await Assertions.Expect(page.GetByTestId("signed-out-reason")).ToContainTextAsync("identity provider");
        var path = Path.Combine(TestContext.TestResultsDirectory ?? Path.Combine(AppContext.BaseDirectory, "TestResults"), "screenshots", "5-after-op-logout.png");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        TestContext.AddResultFile(path);

        await page.GotoAsync("/live");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex("/sign-in"));
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
        private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (string Nonce, string ClientId)> _codes = new();
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
                ["token_endpoint"] = issuer + "/token",
                ["response_types_supported"] = new[] { "code" },
                ["subject_types_supported"] = new[] { "public" },
                ["id_token_signing_alg_values_supported"] = new[] { SecurityAlgorithms.RsaSha256 },
            }));

            // A user who is always signed in at this OP: the authorization answers at once (form_post, the handler's default).
            SigningProvider? self = null;
            app.MapGet("/authorize", (string redirect_uri, string state, string nonce, string client_id) =>
            {
                var code = Guid.NewGuid().ToString("N");
                self!._codes[code] = (nonce, client_id);
                var html = $"""
                    <html><body onload="document.forms[0].submit()"><form method="post" action="{WebUtility.HtmlEncode(redirect_uri)}">
                    <input type="hidden" name="code" value="{code}"><input type="hidden" name="state" value="{WebUtility.HtmlEncode(state)}">
                    </form></body></html>
                    """;
                return Results.Content(html, "text/html");
            });
            app.MapPost("/token", async (HttpRequest request) =>
            {
                var form = await request.ReadFormAsync();
                if (!self!._codes.TryRemove(form["code"].ToString(), out var grant))
                {
                    return Results.BadRequest(new { error = "invalid_grant" });
                }

                var idToken = self.Sign(new JsonObject
                {
                    ["aud"] = grant.ClientId,
                    ["nonce"] = grant.Nonce,
                    ["sub"] = BrowserUser,
                    ["sid"] = BrowserSessionId,
                    ["name"] = "Dave",
                });
                var accessToken = self.Sign(new JsonObject { ["aud"] = ApiAudience, ["sub"] = BrowserUser, ["sid"] = BrowserSessionId });
                return Results.Json(new { access_token = accessToken, id_token = idToken, token_type = "Bearer", expires_in = 300 });
            });
            var publicKey = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(key.Rsa.ExportParameters(false)) { KeyId = key.KeyId });
            app.MapGet("/keys", () => Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = publicKey.Kid, n = publicKey.N, e = publicKey.E } } }));
            await app.StartAsync();
            issuer = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
            return self = new SigningProvider(app, key, issuer);
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
