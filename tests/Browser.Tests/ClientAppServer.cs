using AutoSignOut.ClientApp;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.Browser.Tests;

/// <summary>The real client app, in this process, on Kestrel at 127.0.0.1 with a free port.</summary>
internal sealed class ClientAppServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ClientAppServer(WebApplication app, string baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public string BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>The local user name the app gives the admin role.</summary>
    public const string LocalAdmin = "admin";

    public static async Task<ClientAppServer> StartAsync()
    {
        // Development: static web assets (blazor.web.js, app.css) are served from the build output's manifest.
        var app = ClientAppHost.Create(
            ["--urls=http://127.0.0.1:0", "--environment=Development", "--Logging:LogLevel:Default=Warning", "--ClientApp:LocalAdmins=" + LocalAdmin],
            builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');

        // Compile the pages the timed steps land on, so a measurement does not include their first render.
        using var http = new HttpClient { BaseAddress = new Uri(address) };
        foreach (var path in (string[])["/signed-out?reason=warm_up", "/sign-in", "/"])
        {
            (await http.GetAsync(path)).EnsureSuccessStatusCode();
        }

        return new ClientAppServer(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
