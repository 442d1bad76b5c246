using System.Net;
using System.Text.Json.Nodes;
using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// The client app pointed at an OpenID Provider by configuration alone: OIDC sign-in in Chromium, a bearer token from
/// the OP for the chat hub (<c>access_token</c> query over WebSockets), and the OP's back-channel logout token closing
/// both. The OP is the tests' stand-in on loopback (tests/TestSupport: discovery, keys, an authorization that answers
/// at once, a token endpoint); the real OpenID Providers are the hosts' and the server plugin's work.
/// </summary>
[TestClass]
public sealed class ClientAppOpenIdTests
{
    private const string ClientId = "client-app";
    private const string ApiAudience = "chat-api";
    private const string BrowserUser = "dave";
    private static readonly string BrowserSessionId = TestOpenIdProvider.SessionIdOf(BrowserUser);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task A_bearer_chat_connection_is_closed_by_the_providers_back_channel_logout_and_its_token_refused_after()
    {
        await using var op = await TestOpenIdProvider.StartAsync();
        op.SignedInUser = BrowserUser;
        op.AccessTokenAudience = ApiAudience;
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

        await using var op = await TestOpenIdProvider.StartAsync();
        op.SignedInUser = BrowserUser;
        op.AccessTokenAudience = ApiAudience;
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

        // A standard provider's logout token: no reason. The page still says where the session ended.
        var landed = page.WaitForURLAsync("**/signed-out?source=backchannel_logout", new() { Timeout = 15_000, WaitUntil = WaitUntilState.Commit });
        var logoutToken = op.Sign(
            new JsonObject
            {
                ["aud"] = ClientId,
                ["sub"] = BrowserUser,
                ["sid"] = BrowserSessionId,
                ["events"] = new JsonObject { ["http://schemas.openid.net/event/backchannel-logout"] = new JsonObject() },
            },
            type: "logout+jwt");
        using var http = new HttpClient();
        var response = await http.PostAsync(app.Address + "/signout-backchannel", new FormUrlEncodedContent([new("logout_token", logoutToken)]));
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await landed;
        await Assertions.Expect(page.GetByTestId("signed-out-reason")).ToHaveTextAsync("Your session ended at your identity provider.");
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
}
