using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Text.RegularExpressions;
using AutoSignOut.AspNetCore;
using AutoSignOut.ClientApp.Services;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// Issue 4 in a real browser: the client app in-process on loopback Kestrel, Debian's Chromium through Playwright,
/// one browser context (cookie jar) per user. Revocations go through the app's in-app API, as an admin or
/// password-change screen would do it; a signal is a signal, so the circuit code does not care where it came from.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class LiveSignOutTests
{
    private static readonly TimeSpan SignedOutWithin = TimeSpan.FromSeconds(1);
    private static ClientAppServer? _server;
    private static IPlaywright? _playwright;
    private static IBrowser? _browser;
    private static string? _skipReason;

    public TestContext TestContext { get; set; } = null!;

    private static ClientAppServer Server => _server!;

    private static IBrowser Browser => _browser!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        if (!File.Exists(BrowserSession.ChromiumPath))
        {
            _skipReason = $"{BrowserSession.ChromiumPath} is missing: run eng/chromium.sh (installs Debian's chromium package).";
            return;
        }

        _server = await ClientAppServer.StartAsync();
        (_playwright, _browser) = await BrowserSession.LaunchAsync();

        // One untimed sign-out end to end first, so the timed ones measure the path and not its first compilation.
        var warmUp = await SignInAsync("warm-up-" + Unique());
        await WaitForTicksAsync(warmUp.Page);
        var landed = WaitForSignedOutAsync(warmUp.Page, "warm_up");
        await Server.Services.GetRequiredService<IAutoSignOutService>().SignOutSessionAsync(SessionOf(warmUp.User), "warm_up");
        await landed;
        await warmUp.Context.CloseAsync();
    }

    [ClassCleanup]
    public static async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    [TestInitialize]
    public void SkipWithoutChromium()
    {
        if (_skipReason is not null)
        {
            Assert.Inconclusive(_skipReason);
        }
    }

    [TestMethod]
    public async Task Revoking_a_session_sends_both_of_its_tabs_to_the_signed_out_page_within_a_second_and_other_users_keep_running()
    {
        var alice = await SignInAsync("alice-" + Unique());
        var bob = await SignInAsync("bob-" + Unique());
        var aliceTab2 = await OpenLiveAsync(alice.Context);
        await WaitForTicksAsync(alice.Page, aliceTab2, bob.Page);
        await ScreenshotAsync(alice.Page, "1-before-alice-tab1");
        await ScreenshotAsync(aliceTab2, "1-before-alice-tab2");
        await ScreenshotAsync(bob.Page, "1-before-bob");

        var sid = SessionOf(alice.User);
        var stopwatch = Stopwatch.StartNew();
        var landed = Task.WhenAll(WaitForSignedOutAsync(alice.Page, "admin_revoked"), WaitForSignedOutAsync(aliceTab2, "admin_revoked"));
        await Server.Services.GetRequiredService<IAutoSignOutService>().SignOutSessionAsync(sid, "admin_revoked");
        var sent = stopwatch.Elapsed;
        await landed;
        var elapsed = stopwatch.Elapsed;
        TestContext.WriteLine($"Revocation -> both circuits anonymous and navigation sent: {sent.TotalMilliseconds:0.0} ms; -> both tabs on the signed-out page: {elapsed.TotalMilliseconds:0} ms.");
        Assert.IsLessThan(SignedOutWithin, elapsed, "Both of A's tabs must show the signed-out page within a second.");
        await Expect(alice.Page.GetByTestId("signed-out-reason")).ToContainTextAsync("administrator");
        await Expect(aliceTab2.GetByTestId("signed-out-reason")).ToContainTextAsync("administrator");

        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(alice.Page, "1-after-alice-tab1");
        await ScreenshotAsync(aliceTab2, "1-after-alice-tab2");
        await ScreenshotAsync(bob.Page, "1-after-bob");

        // The revoked cookie is refused and cleared: back to sign-in.
        await alice.Page.GotoAsync(Server.BaseAddress + "/live");
        await Expect(alice.Page).ToHaveURLAsync(new Regex("/sign-in"));
        await ScreenshotAsync(alice.Page, "1-after-alice-reload");

        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [TestMethod]
    public async Task Sign_out_everywhere_from_a_third_tab_closes_the_users_other_tabs_but_not_another_users()
    {
        var alice = await SignInAsync("alice-" + Unique());
        var bob = await SignInAsync("bob-" + Unique());
        var aliceTab2 = await OpenLiveAsync(alice.Context);
        var aliceTab3 = await alice.Context.NewPageAsync();
        await aliceTab3.GotoAsync(Server.BaseAddress + "/account");
        await WaitForTicksAsync(alice.Page, aliceTab2, bob.Page);
        await WaitForInteractiveAsync(aliceTab3);

        // The chat hub works for both (cookie-authenticated WebSockets through AutoSignOut's hub filter).
        await Expect(bob.Page.GetByTestId("chat-status")).ToHaveTextAsync("connected");
        await Expect(aliceTab2.GetByTestId("chat-status")).ToHaveTextAsync("connected");
        var hello = "hello from bob " + Unique();
        await bob.Page.GetByTestId("chat-input").FillAsync(hello);
        await bob.Page.GetByTestId("chat-send").ClickAsync();
        await Expect(aliceTab2.GetByTestId("chat-log")).ToContainTextAsync(hello);
        await ScreenshotAsync(aliceTab2, "2-before-alice-tab2-chat");
        await ScreenshotAsync(aliceTab3, "2-before-alice-account");

        var stopwatch = Stopwatch.StartNew();
        var landed = Task.WhenAll(
            WaitForSignedOutAsync(alice.Page, "signed_out_everywhere"),
            WaitForSignedOutAsync(aliceTab2, "signed_out_everywhere"),
            WaitForSignedOutAsync(aliceTab3, "signed_out_everywhere"));
        await aliceTab3.GetByTestId("sign-out-everywhere").ClickAsync();
        await landed;
        TestContext.WriteLine($"All of A's tabs showed the signed-out page {stopwatch.Elapsed.TotalMilliseconds:0} ms after the click.");
        await Expect(alice.Page.GetByTestId("signed-out-reason")).ToContainTextAsync("everywhere");

        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(alice.Page, "2-after-alice-tab1");
        await ScreenshotAsync(bob.Page, "2-after-bob");

        await alice.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [TestMethod]
    public async Task A_revoked_circuit_processes_no_further_events_even_when_the_browser_ignores_the_navigation()
    {
        var user = "mallory-" + Unique();
        var mallory = await SignInAsync(user);
        var bob = await SignInAsync("bob-" + Unique());
        await WaitForTicksAsync(mallory.Page, bob.Page);

        // A tampered browser: the signed-out navigation goes nowhere, the stale page stays.
        await mallory.Page.RouteAsync("**/signed-out**", route => route.AbortAsync("aborted"));
        using var refusals = new RefusalCounter();
        var activity = Server.Services.GetRequiredService<LivePageActivity>();
        var registry = Server.Services.GetRequiredService<LiveConnectionRegistry>();
        var key = ConnectionKey.Session(SessionOf(user));
        await mallory.Page.GetByTestId("ping").ClickAsync();
        await WaitUntilAsync(() => activity.Clicks(user) == 1);

        await Server.Services.GetRequiredService<IAutoSignOutService>().SignOutSessionAsync(key.Value, "admin_revoked");
        await Task.Delay(300);
        var ticks = activity.Ticks(user);
        var clicks = activity.Clicks(user);

        // Whatever the stale page still has, its clicks and timers reach nothing on the server.
        for (var i = 0; i < 5; i++)
        {
            try
            {
                await mallory.Page.EvaluateAsync("() => document.querySelector('[data-testid=ping]')?.click()");
            }
            catch (PlaywrightException)
            {
                // Blazor gave up on the refused circuit and reloaded the page: there is nothing left to click.
            }

            await Task.Delay(100);
        }

        await Task.Delay(700);
        await ScreenshotAsync(mallory.Page, "3-after-tampered");
        Assert.AreEqual(ticks, activity.Ticks(user), "The revoked circuit rendered no further ticks for the user.");
        Assert.AreEqual(clicks, activity.Clicks(user), "The revoked circuit handled no further clicks.");
        var circuits = registry.FindMatches(null, [key], DateTimeOffset.MaxValue);
        Assert.IsTrue(circuits.All(c => c.IsSignedOut), "Every circuit of the session is signed out.");
        TestContext.WriteLine($"Refused after the revocation: {refusals}.");
        TestContext.WriteLine($"The tampered tab ended at {mallory.Page.Url}.");
        await AssertTickingAsync(bob.Page);

        await mallory.Context.CloseAsync();
        await bob.Context.CloseAsync();
    }

    [TestMethod]
    public async Task An_admin_revoking_a_user_on_the_admin_page_closes_that_users_tabs_and_not_the_admins()
    {
        var alice = await SignInAsync("alice-" + Unique());
        var admin = await SignInAsync(ClientAppServer.LocalAdmin);
        await WaitForTicksAsync(alice.Page, admin.Page);
        var adminPage = await admin.Context.NewPageAsync();
        await adminPage.GotoAsync("/admin");
        await WaitForInteractiveAsync(adminPage);
        await Expect(adminPage.GetByTestId("session-row").Filter(new() { HasText = alice.User })).ToHaveCountAsync(1);

        // Anyone can sign in locally under any name: the admin page is for the admin role only.
        var denied = await alice.Context.APIRequest.GetAsync("/admin", new() { MaxRedirects = 0 });
        Assert.AreNotEqual(200, denied.Status, "a user without the admin role does not get the admin page");

        var landed = WaitForSignedOutAsync(alice.Page, "admin_revoked");
        await adminPage.GetByTestId("admin-user").FillAsync(alice.User);
        await adminPage.GetByTestId("admin-revoke-user").ClickAsync();
        await landed;

        await Expect(adminPage.GetByTestId("admin-message")).ToContainTextAsync(alice.User);
        await Expect(adminPage.GetByTestId("session-row").Filter(new() { HasText = alice.User })).ToContainTextAsync("revoked");
        await ScreenshotAsync(adminPage, "4-after-admin-page");
        await AssertTickingAsync(admin.Page);

        await alice.Context.CloseAsync();
        await admin.Context.CloseAsync();
    }

    private static async Task<(IBrowserContext Context, IPage Page, string User)> SignInAsync(string user)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Server.BaseAddress, ViewportSize = new ViewportSize { Width = 1100, Height = 700 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/sign-in?ReturnUrl=%2Flive");
        await page.GetByTestId("user-name").FillAsync(user);
        await page.GetByTestId("sign-in").ClickAsync();
        await page.WaitForURLAsync("**/live");
        return (context, page, user);
    }

    private static async Task<IPage> OpenLiveAsync(IBrowserContext context)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync("/live");
        return page;
    }

    private static async Task WaitForTicksAsync(params IPage[] pages)
    {
        foreach (var page in pages)
        {
            await WaitForInteractiveAsync(page);
            await Expect(page.GetByTestId("ticks")).Not.ToHaveTextAsync("0", new() { Timeout = 10_000 });
        }
    }

    private static async Task WaitForInteractiveAsync(IPage page) =>
        await page.WaitForFunctionAsync("() => window.Blazor !== undefined", null, new() { Timeout = 10_000 });

    private static Task WaitForSignedOutAsync(IPage page, string reason) =>
        page.WaitForURLAsync($"**/signed-out?reason={reason}*", new() { Timeout = 15_000, WaitUntil = WaitUntilState.Commit });

    private static async Task AssertTickingAsync(IPage page)
    {
        var before = await TicksAsync(page);
        await Task.Delay(800);
        var after = await TicksAsync(page);
        Assert.IsGreaterThan(before, after, "Another user's counter keeps ticking.");
    }

    private static async Task<long> TicksAsync(IPage page) => long.Parse(await page.GetByTestId("ticks").InnerTextAsync(), System.Globalization.CultureInfo.InvariantCulture);

    private static string SessionOf(string user) =>
        Server.Services.GetRequiredService<SessionDirectory>().List().First(s => s.Subject == user).SessionId;

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (!condition())
        {
            Assert.IsLessThan(deadline, DateTime.UtcNow, "Timed out waiting for the server.");
            await Task.Delay(20);
        }
    }

    private async Task ScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(TestContext.TestResultsDirectory ?? Path.Combine(AppContext.BaseDirectory, "TestResults"), "screenshots");
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, name + ".png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
        TestContext.AddResultFile(path);
    }

    private static string Unique() => Guid.NewGuid().ToString("N")[..6];

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);

    private static IPageAssertions Expect(IPage page) => Assertions.Expect(page);

    /// <summary>Counts AutoSignOut's refusals (revoked credentials, circuit events, reconnects) while it lives.</summary>
    private sealed class RefusalCounter : IDisposable
    {
        private readonly Dictionary<string, long> _counts = [];
        private readonly MeterListener _listener;

        public RefusalCounter()
        {
            var listener = _listener = new MeterListener
            {
                InstrumentPublished = (instrument, l) =>
                {
                    if (instrument.Meter.Name == AutoSignOutDefaults.TelemetryName && instrument.Name == "autosignout.credentials.refused")
                    {
                        l.EnableMeasurementEvents(instrument);
                    }
                },
            };
            listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "where")
                    {
                        lock (_counts)
                        {
                            _counts[(string)tag.Value!] = _counts.GetValueOrDefault((string)tag.Value!) + value;
                        }
                    }
                }
            });
            listener.Start();
        }

        public void Dispose() => _listener.Dispose();

        public override string ToString()
        {
            lock (_counts)
            {
                return _counts.Count == 0 ? "none" : string.Join(", ", _counts.Select(c => $"{c.Key} {c.Value}"));
            }
        }
    }
}
