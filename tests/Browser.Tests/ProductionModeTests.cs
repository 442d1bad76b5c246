using System.Net;
using System.Text.RegularExpressions;
using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace AutoSignOut.Browser.Tests;

/// <summary>The client app run as <c>ASPNETCORE_ENVIRONMENT=Production dotnet run</c> runs it: from its build output.</summary>
[TestClass]
public sealed partial class ProductionModeTests
{
    [TestMethod]
    public async Task In_production_mode_every_asset_the_page_names_is_served_and_the_page_becomes_interactive()
    {
        var app = ClientAppHost.Create(["--urls=http://127.0.0.1:0", "--environment=Production"], builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        try
        {
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
            using var http = new HttpClient { BaseAddress = new Uri(address) };
            var page = await http.GetStringAsync("/sign-in");
            var assets = AssetReference().Matches(page).Select(m => m.Groups["url"].Value).Where(u => !u.StartsWith("http", StringComparison.Ordinal)).Distinct().ToList();
            Assert.IsTrue(assets.Any(a => a.Contains("blazor.web", StringComparison.Ordinal)), string.Join(", ", assets));
            foreach (var asset in assets)
            {
                Assert.AreEqual(HttpStatusCode.OK, (await http.GetAsync(asset.StartsWith('/') ? asset : "/" + asset)).StatusCode, asset);
            }

            // And in a browser: the page's circuit starts (Blazor marks the document once it is interactive).
            if (!File.Exists(BrowserSession.ChromiumPath))
            {
                Assert.Inconclusive("Chromium is not installed (bash eng/chromium.sh); the assets were checked over HTTP only.");
            }

            var (playwright, browser) = await BrowserSession.LaunchAsync();
            try
            {
                var tab = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = address });
                await tab.GotoAsync("/");
                await tab.WaitForFunctionAsync("() => window.Blazor !== undefined", null, new PageWaitForFunctionOptions { Timeout = 10_000 });
            }
            finally
            {
                await browser.DisposeAsync();
                playwright.Dispose();
            }
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    [GeneratedRegex("""(?:src|href)="(?<url>[^"#?]+\.(?:js|css))""")]
    private static partial Regex AssetReference();
}
