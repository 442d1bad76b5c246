using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>The README's quick start, line for line, builds and starts.</summary>
[TestClass]
public sealed class QuickStartTests
{
    [TestMethod]
    public async Task The_readme_quick_start_starts_and_serves_the_endpoint()
    {
        string[] args = ["--urls=http://127.0.0.1:0"];

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie();
        builder.Services.AddSignalR();
        builder.Services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider
        {
            Authority = "https://idp.example.com",
            ClientIds = { "my-client" },
        }));
        var app = builder.Build();
        app.MapBackChannelLogout();
        app.MapHub<ChatHub>("/chat");

        await app.StartAsync();
        using var client = new HttpClient();
        var response = await client.PostAsync(app.Urls.First() + "/signout-backchannel", new FormUrlEncodedContent([new("logout_token", "x.y.z")]));
        Assert.AreEqual(System.Net.HttpStatusCode.BadRequest, response.StatusCode);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private sealed class ChatHub : Hub;
}
