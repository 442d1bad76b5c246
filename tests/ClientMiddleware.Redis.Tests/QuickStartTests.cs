using System.Net;
using AutoSignOut.AspNetCore.Redis.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.AspNetCore.Redis.Tests;

/// <summary>The README's quick start builds and starts, and its health check tells whether Redis can be relied on.</summary>
[TestClass]
public sealed class QuickStartTests
{
    [TestMethod]
    public async Task The_readme_quick_start_starts_and_reports_healthy_once_current_with_the_stream()
    {
        var redis = TestRedis.SharedConfiguration();
        string[] args = ["--urls=http://127.0.0.1:0", "--ConnectionStrings:redis=" + redis];

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddSignalR();
        builder.Services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider { Authority = "https://idp.example.com", ClientIds = { "my-client" } }))
            .AddRedis(builder.Configuration.GetConnectionString("redis")!, o => o.KeyPrefix = TestRedis.NewPrefix());
        builder.Services.AddHealthChecks().AddAutoSignOutRedis();
        var app = builder.Build();
        app.MapBackChannelLogout();
        app.MapHub<ChatHub>("/chat");
        app.MapHealthChecks("/healthz");

        await app.StartAsync();
        using var client = new HttpClient();
        HttpResponseMessage health;
        var attempts = 0;
        do
        {
            // Healthy once the first read of the stream is done; bounded, not timed.
            health = await client.GetAsync(app.Urls.First() + "/healthz");
        }
        while (health.StatusCode != HttpStatusCode.OK && ++attempts < 100 && await Task.Delay(100).ContinueWith(_ => true, TaskScheduler.Default));

        Assert.AreEqual(HttpStatusCode.OK, health.StatusCode, await health.Content.ReadAsStringAsync());
        await app.StopAsync();
        await app.DisposeAsync();
    }

    [TestMethod]
    public async Task A_node_started_without_Redis_refuses_credentials_without_clearing_them_and_reports_unhealthy()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var configuration = redis.Configuration;
        await redis.StopAsync();
        string[] args = ["--urls=http://127.0.0.1:0"];

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddAutoSignOut().AddRedis(configuration, o => o.OperationTimeout = TimeSpan.FromMilliseconds(500));
        builder.Services.AddHealthChecks().AddAutoSignOutRedis();
        var app = builder.Build();
        app.UseAuthentication();
        app.MapGet("/signin", async (HttpContext context) =>
        {
            var principal = new System.Security.Claims.ClaimsPrincipal(new System.Security.Claims.ClaimsIdentity([new System.Security.Claims.Claim("sub", "alice")], "cookie"));
            await Microsoft.AspNetCore.Authentication.AuthenticationHttpContextExtensions.SignInAsync(context, principal);
        });
        app.MapGet("/me", (HttpContext context) => context.User.Identity?.IsAuthenticated == true ? Results.Text("alice") : Results.Unauthorized());
        app.MapHealthChecks("/healthz");
        await app.StartAsync();
        using var client = new HttpClient(new HttpClientHandler { UseCookies = false });
        var signIn = await client.GetAsync(app.Urls.First() + "/signin");
        var cookie = signIn.Headers.GetValues("Set-Cookie").First().Split(';')[0];

        using var request = new HttpRequestMessage(HttpMethod.Get, app.Urls.First() + "/me");
        request.Headers.Add("Cookie", cookie);
        var me = await client.SendAsync(request);

        Assert.AreEqual(HttpStatusCode.Unauthorized, me.StatusCode, "fail closed: the revoked set could not be loaded");
        Assert.IsFalse(me.Headers.Contains("Set-Cookie"), "the cookie is not cleared: it works once Redis is reached");
        Assert.AreEqual(HttpStatusCode.ServiceUnavailable, (await client.GetAsync(app.Urls.First() + "/healthz")).StatusCode);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private sealed class ChatHub : Hub;
}
