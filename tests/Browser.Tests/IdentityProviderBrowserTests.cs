using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// Issue 7 in a real browser: the real identity provider (hosts/IdentityProvider: OpenIddict, ASP.NET Core Identity,
/// SQLite) and the real client app, in this process on loopback ports; Debian's Chromium through Playwright, one
/// browser context (cookie jar: an IdP session and a client session) per user. Each user signs in through the code
/// flow by typing a password into the IdP's sign-in form and opens the client's live page; each trigger at the IdP
/// must send that live tab to the signed-out page with the trigger's reason within a second of the trigger's answer,
/// and leave another user's live tab running.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class IdentityProviderBrowserTests
{
    private const string Bystander = "bob";
    private const string WarmUpUser = "walter";
    private const string LogoutUser = "erin";
    private const string PasswordUser = "frank";
    private const string AdminTarget = "grace";
    private const string RefreshUser = "heidi";
    private const string Admin = "admin";
    private static readonly TimeSpan SignedOutWithin = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ReportLateArrivalFor = TimeSpan.FromSeconds(10);
    private static IdentityProviderStack? _stack;
    private static IPlaywright? _playwright;
    private static IBrowser? _browser;
    private static string? _skipReason;

    public TestContext TestContext { get; set; } = null!;

    private static IdentityProviderStack Stack => _stack!;

    private static IBrowser Browser => _browser!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context)
    {
        if (!File.Exists(BrowserSession.ChromiumPath))
        {
            _skipReason = $"{BrowserSession.ChromiumPath} is missing: run eng/chromium.sh (installs Debian's chromium package).";
            return;
        }

        _stack = await IdentityProviderStack.StartAsync([WarmUpUser, LogoutUser, PasswordUser, AdminTarget, RefreshUser]);
        (_playwright, _browser) = await BrowserSession.LaunchAsync();

        // One untimed trigger end to end first (sign-in, code flow, IdP logout, back-channel delivery, the circuit's
        // navigation, the signed-out page), so the timed ones measure the path and not its first compilation.
        var warmUp = await SignInAsync(WarmUpUser);
        var landed = LandedAsync(warmUp.Page, "logout");
        var idpTab = await OpenIdpPageAsync(warmUp.Context, "/account");
        await idpTab.GetByTestId("sign-out").ClickAsync();
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
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
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
    public async Task Signing_out_at_the_idp_in_another_tab_sends_the_live_tab_to_the_signed_out_page_within_a_second()
    {
        var user = await SignInAsync(LogoutUser);
        var bob = await SignInAsync(Bystander);
        var idpTab = await OpenIdpPageAsync(user.Context, "/account");

        var landed = LandedAsync(user.Page, "logout");
        var triggered = await TriggerAsync(idpTab, "/account/sign-out", () => idpTab.GetByTestId("sign-out").ClickAsync());

        await AssertLeftWithinASecondAsync(user.Page, landed, triggered, "IdP sign-out (POST /account/sign-out)");
        await Expect(user.Page.GetByTestId("signed-out-reason")).ToHaveTextAsync("You signed out at the identity provider.");
        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(user.Page, "idp-1-logout-user");
        await CloseAsync(user, bob);
    }

    [TestMethod]
    public async Task Changing_the_password_on_the_idps_account_page_sends_the_live_tab_to_the_signed_out_page_within_a_second()
    {
        var user = await SignInAsync(PasswordUser);
        var bob = await SignInAsync(Bystander);
        var idpTab = await OpenIdpPageAsync(user.Context, "/account");
        var newPassword = IdentityProviderStack.PasswordOf(PasswordUser) + "-changed";
        await idpTab.GetByTestId("current-password").FillAsync(IdentityProviderStack.PasswordOf(PasswordUser));
        await idpTab.GetByTestId("new-password").FillAsync(newPassword);
        await idpTab.GetByTestId("confirm-password").FillAsync(newPassword);

        var landed = LandedAsync(user.Page, "password_changed");
        var triggered = await TriggerAsync(idpTab, "/account/change-password", () => idpTab.GetByTestId("change-password").ClickAsync());

        await AssertLeftWithinASecondAsync(user.Page, landed, triggered, "password change (POST /account/change-password)");
        await Expect(user.Page.GetByTestId("signed-out-reason")).ToHaveTextAsync("Your password was changed, so every session was ended.");
        await Expect(idpTab.GetByTestId("sign-in-message")).ToBeVisibleAsync();
        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(user.Page, "idp-2-password-user");
        await CloseAsync(user, bob);
    }

    [TestMethod]
    public async Task An_admin_ending_the_users_sessions_on_the_idps_admin_page_sends_the_live_tab_to_the_signed_out_page_within_a_second()
    {
        var user = await SignInAsync(AdminTarget);
        var bob = await SignInAsync(Bystander);
        var admin = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Stack.IdpAddress });
        var adminPage = await admin.NewPageAsync();
        await adminPage.GotoAsync("/account/sign-in?ReturnUrl=%2Fadmin");
        await adminPage.GetByTestId("user-name").FillAsync(Admin);
        await adminPage.GetByTestId("password").FillAsync(IdentityProviderStack.PasswordOf(Admin));
        await adminPage.GetByTestId("sign-in").ClickAsync();
        await adminPage.WaitForURLAsync(url => url.StartsWith(Stack.IdpAddress + "/admin", StringComparison.Ordinal), new() { Timeout = 10_000 });
        var row = adminPage.GetByTestId("user-row").Filter(new() { HasText = AdminTarget + "@example.test" });
        await Expect(row).ToContainTextAsync("1 active session");

        var landed = LandedAsync(user.Page, "admin_revoked");
        var triggered = await TriggerAsync(adminPage, "/end-sessions", () => row.GetByTestId("end-sessions").ClickAsync());

        await AssertLeftWithinASecondAsync(user.Page, landed, triggered, "admin ending the user's sessions (POST /admin/users/{id}/end-sessions)");
        await Expect(user.Page.GetByTestId("signed-out-reason")).ToHaveTextAsync("An administrator ended your session.");
        await Expect(adminPage.GetByTestId("admin-message")).ToContainTextAsync(AdminTarget);
        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(adminPage, "idp-3-admin-page");
        await ScreenshotAsync(user.Page, "idp-3-admin-target");
        await admin.CloseAsync();
        await CloseAsync(user, bob);
    }

    [TestMethod]
    public async Task Revoking_the_sessions_refresh_token_at_the_revocation_endpoint_sends_the_live_tab_to_the_signed_out_page_within_a_second()
    {
        var user = await SignInAsync(RefreshUser);
        var bob = await SignInAsync(Bystander);

        // A refresh token of the same IdP session: the code flow again in this browser's IdP session (its cookie).
        var refreshToken = await RefreshTokenInSessionAsync(user.Context);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        var landed = LandedAsync(user.Page, "token_revoked");
        using var response = await http.PostAsync(Stack.IdpAddress + "/connect/revocation", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["token"] = refreshToken,
            ["token_type_hint"] = "refresh_token",
            ["client_id"] = "client-app",
        }));
        var triggered = Stopwatch.GetTimestamp();
        Assert.IsTrue(response.IsSuccessStatusCode, $"The revocation endpoint answered {(int)response.StatusCode}.");

        await AssertLeftWithinASecondAsync(user.Page, landed, triggered, "refresh token revoked (POST /connect/revocation)");
        await Expect(user.Page.GetByTestId("signed-out-reason")).ToHaveTextAsync("Your sign-in at the identity provider was revoked.");
        await AssertTickingAsync(bob.Page);
        await ScreenshotAsync(user.Page, "idp-4-refresh-user");
        await CloseAsync(user, bob);
    }

    /// <summary>Signs in at the client app through the IdP's sign-in form, in a new browser context; ends on a ticking live page.</summary>
    internal static async Task<(IBrowserContext Context, IPage Page)> SignInAsync(string userName)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = Stack.ClientAddress, ViewportSize = new ViewportSize { Width = 1100, Height = 700 } });
        var page = await context.NewPageAsync();
        await page.GotoAsync("/account/sign-in-oidc?returnUrl=%2Flive");
        await page.WaitForURLAsync(url => url.StartsWith(Stack.IdpAddress + "/account/sign-in", StringComparison.Ordinal), new() { Timeout = 10_000 });
        await page.GetByTestId("user-name").FillAsync(userName);
        await page.GetByTestId("password").FillAsync(IdentityProviderStack.PasswordOf(userName));
        await page.GetByTestId("sign-in").ClickAsync();
        await page.WaitForURLAsync(url => url.StartsWith(Stack.ClientAddress + "/live", StringComparison.Ordinal), new() { Timeout = 10_000 });
        await page.WaitForFunctionAsync("() => window.Blazor !== undefined", null, new() { Timeout = 10_000 });
        await Expect(page.GetByTestId("ticks")).Not.ToHaveTextAsync("0", new() { Timeout = 10_000 });
        return (context, page);
    }

    private static async Task<IPage> OpenIdpPageAsync(IBrowserContext context, string path)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(Stack.IdpAddress + path);
        Assert.StartsWith(Stack.IdpAddress + path, page.Url, "The IdP page opened in this browser's IdP session.");
        return page;
    }

    /// <summary>Completes with the <see cref="Stopwatch"/> timestamp at which the page committed its navigation to the signed-out page.</summary>
    private static async Task<long> LandedAsync(IPage page, string reason)
    {
        await page.WaitForURLAsync(
            url => url.StartsWith(Stack.ClientAddress + "/signed-out?reason=" + reason, StringComparison.Ordinal),
            new() { Timeout = (float)(SignedOutWithin + ReportLateArrivalFor).TotalMilliseconds, WaitUntil = WaitUntilState.Commit });
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Runs a click that posts a form, and returns the <see cref="Stopwatch"/> timestamp of that POST's response.</summary>
    private static async Task<long> TriggerAsync(IPage page, string pathSuffix, Func<Task> click)
    {
        var response = await page.RunAndWaitForResponseAsync(
            click,
            r => r.Request.Method == "POST" && new Uri(r.Url).AbsolutePath.EndsWith(pathSuffix, StringComparison.Ordinal),
            new() { Timeout = 10_000 });
        var at = Stopwatch.GetTimestamp();
        Assert.IsLessThan(400, response.Status, $"{response.Request.Method} {response.Url} answered {response.Status}.");
        return at;
    }

    /// <summary>
    /// The "within 1 second": a wait for the navigation bounded at one second after the trigger's answer. When
    /// it runs out, waiting a little longer only tells the failure message how late the tab was.
    /// </summary>
    private async Task AssertLeftWithinASecondAsync(IPage page, Task<long> landed, long triggeredAt, string trigger)
    {
        var remaining = SignedOutWithin - Stopwatch.GetElapsedTime(triggeredAt);
        if (remaining > TimeSpan.Zero)
        {
            await Task.WhenAny(landed, Task.Delay(remaining));
        }

        if (!landed.IsCompletedSuccessfully)
        {
            await Task.WhenAny(landed, Task.Delay(ReportLateArrivalFor));
            Assert.Fail(landed.IsCompletedSuccessfully
                ? $"After {trigger}, the live tab reached the signed-out page {Ms(triggeredAt, landed.Result)} ms after the trigger's answer, not within {SignedOutWithin.TotalMilliseconds:0} ms."
                : $"After {trigger}, the live tab did not reach the signed-out page within {(SignedOutWithin + ReportLateArrivalFor).TotalSeconds:0} s ; it is at {page.Url}.");
        }

        var elapsed = Ms(triggeredAt, await landed);
        TestContext.WriteLine($"{trigger}: the live tab committed its navigation to the signed-out page {elapsed} ms after the trigger's answer (negative: before it).");
    }

    private static async Task<string> RefreshTokenInSessionAsync(IBrowserContext context)
    {
        var verifier = Base64Url(RandomNumberGenerator.GetBytes(32));
        var state = Base64Url(RandomNumberGenerator.GetBytes(16));
        var redirectUri = Stack.ClientAddress + "/signin-oidc";
        var query = new Dictionary<string, string?>
        {
            ["client_id"] = "client-app",
            ["redirect_uri"] = redirectUri,
            ["response_type"] = "code",
            ["response_mode"] = "query",
            ["scope"] = "openid profile offline_access",
            ["code_challenge"] = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))),
            ["code_challenge_method"] = "S256",
            ["state"] = state,
            ["nonce"] = Base64Url(RandomNumberGenerator.GetBytes(16)),
        };

        // The context's request client shares the browser's cookies: the IdP recognises its session and answers with a code.
        var authorize = await context.APIRequest.GetAsync(QueryHelpers.AddQueryString(Stack.IdpAddress + "/connect/authorize", query), new() { MaxRedirects = 0, Timeout = 10_000 });
        Assert.AreEqual(302, authorize.Status, "The authorization endpoint redirects back with a code (the IdP session is live).");
        var location = new Uri(authorize.Headers["location"]);
        var parameters = QueryHelpers.ParseQuery(location.Query);
        Assert.AreEqual(state, parameters["state"].ToString());

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using var token = await http.PostAsync(Stack.IdpAddress + "/connect/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["client_id"] = "client-app",
            ["code"] = parameters["code"].ToString(),
            ["redirect_uri"] = redirectUri,
            ["code_verifier"] = verifier,
        }));
        var json = await token.Content.ReadFromJsonAsync<JsonElement>();
        Assert.IsTrue(token.IsSuccessStatusCode, $"The token endpoint answered {(int)token.StatusCode}: {json}");
        return json.GetProperty("refresh_token").GetString()!;
    }

    private static async Task AssertTickingAsync(IPage page)
    {
        var before = await TicksAsync(page);
        await Task.Delay(800);
        var after = await TicksAsync(page);
        Assert.IsGreaterThan(before, after, "Another user's live tab keeps ticking.");
        Assert.StartsWith(Stack.ClientAddress + "/live", page.Url, "Another user's live tab stays on the live page.");
    }

    private static async Task<long> TicksAsync(IPage page) => long.Parse(await page.GetByTestId("ticks").InnerTextAsync(new() { Timeout = 5_000 }), CultureInfo.InvariantCulture);

    private static async Task CloseAsync(params (IBrowserContext Context, IPage Page)[] users)
    {
        foreach (var (context, _) in users)
        {
            await context.CloseAsync();
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

    private static long Ms(long from, long to) => (long)((to - from) * 1000.0 / Stopwatch.Frequency);

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static ILocatorAssertions Expect(ILocator locator) => Assertions.Expect(locator);
}
