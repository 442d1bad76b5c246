using System.Diagnostics;
using System.Net;
using AutoSignOut.AspNetCore;
using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// A client app that is down when the user signs out at the IdP: the IdP answers the user at once, keeps the logout
/// notification in its outbox, and delivers it when the client app is back on the same port; from then on the
/// session's cookie is refused. The real hosts, SQLite, Chromium for the sign-ins.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class IdentityProviderFaultTests
{
    private const string User = "ivan";
    private const string Bystander = "bob";
    private static readonly TimeSpan Downtime = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan LogoutBound = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan DeliveryBound = TimeSpan.FromSeconds(15);

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    [Timeout(120_000, CooperativeCancellation = true)]
    public async Task A_logout_while_the_client_app_is_down_is_not_delayed_and_is_delivered_when_it_is_back_and_the_cookie_is_refused()
    {
        if (!File.Exists(BrowserSession.ChromiumPath))
        {
            Assert.Inconclusive($"{BrowserSession.ChromiumPath} is missing: run eng/chromium.sh.");
        }

        // Short durable retries, so the redelivery follows the restart closely; the breaker must not hold it back either.
        await using var stack = await IdentityProviderStack.StartAsync([User], builder => builder.Services.AddAutoSignOutServer(o =>
        {
            o.AttemptTimeout = TimeSpan.FromSeconds(2);
            o.ImmediateRetries = 0;
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(500);
            o.MaxRetryDelay = TimeSpan.FromSeconds(1);
            o.CircuitBreakerBreakDuration = TimeSpan.FromMilliseconds(500);
            o.PollInterval = TimeSpan.FromSeconds(1);
        }));
        var (playwright, browser) = await BrowserSession.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;

        var ivan = await SignInAsync(stack, browser, User);
        var bob = await SignInAsync(stack, browser, Bystander);
        var ivanSessions = await SessionsOfAsync(stack, User);
        Assert.HasCount(1, ivanSessions, "Ivan has one IdP session.");
        var sid = ivanSessions[0].SessionId;
        Assert.AreEqual("accepted", await ConnectAsync(stack, ivan.Cookies), "Ivan's cookie opens a hub connection before the logout.");

        // The client app goes down; the user signs out at the IdP meanwhile.
        await ivan.Page.CloseAsync();
        await bob.Page.CloseAsync();
        var stopped = Stopwatch.StartNew();
        await stack.StopClientAppAsync();
        TestContext.WriteLine($"Client app stopped ({stack.ClientAddress}).");
        var idpTab = await ivan.Context.NewPageAsync();
        await idpTab.GotoAsync(stack.IdpAddress + "/account");
        var logout = Stopwatch.StartNew();
        var response = await idpTab.RunAndWaitForResponseAsync(
            () => idpTab.GetByTestId("sign-out").ClickAsync(),
            r => r.Request.Method == "POST" && r.Url.EndsWith("/account/sign-out", StringComparison.Ordinal),
            new() { Timeout = (float)LogoutBound.TotalMilliseconds });
        var logoutDuration = logout.Elapsed;
        await idpTab.WaitForURLAsync(url => url.StartsWith(stack.IdpAddress + "/account/signed-out", StringComparison.Ordinal), new() { Timeout = (float)LogoutBound.TotalMilliseconds });
        var pageShown = logout.Elapsed;
        var timing = response.Request.Timing;
        TestContext.WriteLine($"Logout at the IdP with the client app down: POST /account/sign-out answered {response.Status} {timing.ResponseStart - timing.RequestStart:0} ms after the browser sent it ({logoutDuration.TotalMilliseconds:0} ms from the click); the IdP's signed-out page shown {pageShown.TotalMilliseconds:0} ms after the click.");
        Assert.AreEqual(302, response.Status, "The IdP's sign-out answered with its redirect.");
        Assert.IsLessThan(Downtime, stopped.Elapsed, "The logout completed while the client app was down.");
        Assert.IsEmpty((await SessionsOfAsync(stack, User)).Where(s => s.SessionId == sid), "The IdP session ended at once.");
        Assert.IsFalse(stack.Signals.Any(s => s.Signal.SessionId == sid), "Nothing reached the stopped client app.");

        // 30 s later the client app is back on the same port; the outbox delivers the notification.
        await Task.Delay(Downtime - stopped.Elapsed, TestContext.CancellationToken);
        var restart = Stopwatch.GetTimestamp();
        await stack.StartClientAppAsync();
        TestContext.WriteLine($"Client app started again on the same port {stopped.Elapsed.TotalSeconds:0.0} s after it stopped.");
        var delivered = await WaitForSignalAsync(stack, sid, restart, DeliveryBound);
        Assert.IsNotNull(delivered, $"The logout notification reached the client app within {DeliveryBound.TotalSeconds:0} s of its restart.");
        TestContext.WriteLine($"Logout token delivered {Stopwatch.GetElapsedTime(restart, delivered.Value.At).TotalMilliseconds:0} ms after the restart began (reason {delivered.Value.Signal.Reason}).");
        Assert.AreEqual(RevocationReasons.Logout, delivered.Value.Signal.Reason);

        // The session's old cookie is refused; another user's cookie, minted before the restart too, still works.
        Assert.StartsWith("refused", await ConnectAsync(stack, ivan.Cookies), "Ivan's old cookie is refused after the redelivery.");
        Assert.AreEqual("accepted", await ConnectAsync(stack, bob.Cookies), "Bob's cookie from before the restart is still accepted (the restart alone refuses nothing).");

        await ivan.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    private static async Task<(IBrowserContext Context, IPage Page, IReadOnlyList<BrowserContextCookiesResult> Cookies)> SignInAsync(IdentityProviderStack stack, IBrowser browser, string userName)
    {
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = stack.ClientAddress });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/account/sign-in-oidc?returnUrl=%2Flive");
        await page.WaitForURLAsync(url => url.StartsWith(stack.IdpAddress + "/account/sign-in", StringComparison.Ordinal), new() { Timeout = 10_000 });
        await page.GetByTestId("user-name").FillAsync(userName);
        await page.GetByTestId("password").FillAsync(IdentityProviderStack.PasswordOf(userName));
        await page.GetByTestId("sign-in").ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(stack.ClientAddress + "/live", StringComparison.Ordinal), new() { Timeout = 10_000 });
        var cookies = await context.CookiesAsync([stack.ClientAddress]);
        return (context, page, [.. cookies.Where(c => c.Name.StartsWith("AutoSignOut.ClientApp", StringComparison.Ordinal))]);
    }

    private static async Task<IReadOnlyList<IdentitySession>> SessionsOfAsync(IdentityProviderStack stack, string userName)
    {
        await using var scope = stack.IdentityProvider.Services.CreateAsyncScope();
        var user = await scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>().FindByNameAsync(userName)
            ?? throw new InvalidOperationException($"No user {userName}.");
        return await scope.ServiceProvider.GetRequiredService<IAutoSignOutSessionService>().GetSessionsAsync(user.Id);
    }

    private static async Task<(long At, SignOutSignal Signal)?> WaitForSignalAsync(IdentityProviderStack stack, string sid, long since, TimeSpan bound)
    {
        while (Stopwatch.GetElapsedTime(since) < bound)
        {
            foreach (var entry in stack.Signals)
            {
                if (entry.At >= since && entry.Signal.SessionId == sid)
                {
                    return entry;
                }
            }

            await Task.Delay(20);
        }

        return null;
    }

    /// <summary>Opens a hub connection with the browser's client-app cookies and sends one message: "accepted", or "refused (…)".</summary>
    private static async Task<string> ConnectAsync(IdentityProviderStack stack, IReadOnlyList<BrowserContextCookiesResult> cookies)
    {
        var hub = new Uri(stack.ClientAddress + "/hubs/chat");
        await using var connection = new HubConnectionBuilder()
            .WithUrl(hub, HttpTransportType.WebSockets, o =>
            {
                foreach (var cookie in cookies)
                {
                    o.Cookies.Add(hub, new System.Net.Cookie(cookie.Name, cookie.Value, "/", hub.Host));
                }
            })
            .Build();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await connection.StartAsync(timeout.Token);
            await connection.InvokeAsync("Send", "still here?", timeout.Token);
            return "accepted";
        }
        catch (HttpRequestException e) when (e.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return $"refused ({(int)e.StatusCode.Value} at negotiate)";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return $"refused ({e.GetType().Name}: {e.Message})";
        }
    }
}
