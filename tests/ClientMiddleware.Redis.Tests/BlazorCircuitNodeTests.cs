using System.Net;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using AutoSignOut.AspNetCore.Redis.Tests.Infrastructure;
using AutoSignOut.Browser.Tests;
using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Playwright;

namespace AutoSignOut.AspNetCore.Redis.Tests;

/// <summary>
/// The demo client app (Blazor Server, hosts/ClientApp) on three nodes sharing a real redis-server, signed in at the
/// tests' OpenID Provider, with a live circuit of the same session open on each node in Debian's Chromium. A browser
/// sends its cookie to every node (cookies are per host, not per port), as it would behind a load balancer.
/// Inconclusive without Chromium or Redis.
/// </summary>
[TestClass]
[DoNotParallelize]
public sealed class BlazorCircuitNodeTests
{
    private const string ClientId = "client-app";
    private static readonly TimeSpan Eventually = TimeSpan.FromSeconds(30);
    private readonly List<WebApplication> _nodes = [];
    private readonly InMemoryKeyRepository _keys = new();
    private TestOpenIdProvider? _op;
    private IPlaywright? _playwright;
    private IBrowser? _browser;

    [TestCleanup]
    public async Task StopAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
        foreach (var node in _nodes)
        {
            await node.StopAsync();
            await node.DisposeAsync();
        }

        if (_op is not null)
        {
            await _op.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task A_logout_token_posted_to_node_1_sends_the_sessions_tab_on_every_node_to_the_signed_out_page_and_another_sessions_tabs_stay()
    {
        if (!File.Exists(BrowserSession.ChromiumPath))
        {
            Assert.Inconclusive($"{BrowserSession.ChromiumPath} is missing: run eng/chromium.sh.");
        }

        var redis = TestRedis.SharedConfiguration();
        var prefix = TestRedis.NewPrefix();
        _op = await TestOpenIdProvider.StartAsync();
        var nodes = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            nodes.Add(await StartNodeAsync(_op.Issuer, redis, prefix));
        }

        (_playwright, _browser) = await BrowserSession.LaunchAsync();

        // Dave signs in at node 1 and opens the live page on every node; Erin signs in at node 2 and opens it on nodes 2 and 3.
        var dave = await SignInAsync("dave", nodes[0]);
        var daveTabs = new List<IPage> { dave.Page, await OpenLiveAsync(dave.Context, nodes[1]), await OpenLiveAsync(dave.Context, nodes[2]) };
        var erin = await SignInAsync("erin", nodes[1]);
        var erinTabs = new List<IPage> { erin.Page, await OpenLiveAsync(erin.Context, nodes[2]) };
        foreach (var tab in daveTabs.Concat(erinTabs))
        {
            await WaitForTicksAsync(tab);
        }

        var daveCookie = await CookieHeaderAsync(dave.Context);
        var erinCookie = await CookieHeaderAsync(erin.Context);

        var landed = daveTabs.Select(tab => tab.WaitForURLAsync("**/signed-out?source=backchannel_logout", new() { Timeout = (float)Eventually.TotalMilliseconds, WaitUntil = WaitUntilState.Commit })).ToList();
        using var http = new HttpClient();
        var response = await http.PostAsync(nodes[0] + "/signout-backchannel", new FormUrlEncodedContent([new("logout_token", _op.LogoutToken(ClientId, "dave", TestOpenIdProvider.SessionIdOf("dave")))]));

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await Task.WhenAll(landed);
        for (var i = 0; i < daveTabs.Count; i++)
        {
            StringAssert.StartsWith(daveTabs[i].Url, nodes[i] + "/signed-out", $"dave's tab on node {i + 1} left for that node's signed-out page");
            await Assertions.Expect(daveTabs[i].GetByTestId("signed-out-reason")).ToHaveTextAsync("Your session ended at your identity provider.");
        }

        foreach (var tab in erinTabs)
        {
            await AssertStillTickingAsync(tab);
        }

        foreach (var node in nodes)
        {
            Assert.AreEqual(HttpStatusCode.Redirect, (await GetLiveAsync(node, daveCookie)).StatusCode, $"the revoked cookie is refused on {node}");
            Assert.AreEqual(HttpStatusCode.OK, (await GetLiveAsync(node, erinCookie)).StatusCode, $"another session's cookie works on {node}");
        }
    }

    private async Task<string> StartNodeAsync(string authority, string redis, string prefix)
    {
        var app = ClientAppHost.Create(
            [
                "--urls=http://127.0.0.1:0", "--environment=Development", "--Logging:LogLevel:Default=Warning",
                $"--Oidc:Authority={authority}", $"--Oidc:ClientId={ClientId}", "--Oidc:RequireHttpsMetadata=false",
            ],
            builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                builder.Services.AddAutoSignOut().AddRedis(redis, o => o.KeyPrefix = prefix);

                // The nodes of one app share their data protection keys: a cookie (and a prerendered circuit) from one is read by all.
                builder.Services.AddDataProtection().SetApplicationName("autosignout-redis-browser-tests");
                builder.Services.Configure<KeyManagementOptions>(o => o.XmlRepository = _keys);
            });
        _nodes.Add(app);
        await app.StartAsync();
        return app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
    }

    private async Task<(IBrowserContext Context, IPage Page)> SignInAsync(string user, string node)
    {
        _op!.SignedInUser = user;
        var context = await _browser!.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(node + "/sign-in?ReturnUrl=%2Flive");
        await page.GetByText("Sign in with the identity provider").ClickAsync();
        await page.WaitForURLAsync(node + "/live");
        await Assertions.Expect(page.GetByTestId("live-user")).ToHaveTextAsync(TestOpenIdProvider.DisplayNameOf(user));
        return (context, page);
    }

    private static async Task<IPage> OpenLiveAsync(IBrowserContext context, string node)
    {
        var page = await context.NewPageAsync();
        await page.GotoAsync(node + "/live");
        Assert.AreEqual(node + "/live", page.Url, "the session's cookie signs the browser in on this node too");
        return page;
    }

    private static async Task WaitForTicksAsync(IPage page)
    {
        await page.WaitForFunctionAsync("() => window.Blazor !== undefined", null, new() { Timeout = (float)Eventually.TotalMilliseconds });
        await Assertions.Expect(page.GetByTestId("ticks")).Not.ToHaveTextAsync("0", new() { Timeout = (float)Eventually.TotalMilliseconds });
    }

    /// <summary>The circuit still renders: its counter moves on from what it showed, and the tab stayed on the live page.</summary>
    private static async Task AssertStillTickingAsync(IPage page)
    {
        var before = await page.GetByTestId("ticks").InnerTextAsync();
        await Assertions.Expect(page.GetByTestId("ticks")).Not.ToHaveTextAsync(before, new() { Timeout = (float)Eventually.TotalMilliseconds });
        StringAssert.EndsWith(page.Url, "/live");
    }

    /// <summary>The context's cookies as a Cookie header (the auth cookie may be chunked), to ask each node directly.</summary>
    private static async Task<string> CookieHeaderAsync(IBrowserContext context) =>
        string.Join("; ", (await context.CookiesAsync()).Select(c => c.Name + "=" + c.Value));

    private static async Task<HttpResponseMessage> GetLiveAsync(string node, string cookie)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, node + "/live");
        request.Headers.Add("Cookie", cookie);
        var response = await http.SendAsync(request);
        if (response.StatusCode == HttpStatusCode.Redirect)
        {
            StringAssert.Contains(response.Headers.Location!.ToString(), "/sign-in");
        }

        return response;
    }

    /// <summary>The key ring of the app's nodes, held in memory for the test.</summary>
    private sealed class InMemoryKeyRepository : IXmlRepository
    {
        private readonly List<XElement> _elements = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_elements)
            {
                return [.. _elements.Select(e => new XElement(e))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_elements)
            {
                _elements.Add(new XElement(element));
            }
        }
    }
}
