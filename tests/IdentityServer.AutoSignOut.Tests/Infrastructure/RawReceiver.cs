using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// A back-channel endpoint on loopback Kestrel whose handler writes the whole response itself: for answers the
/// <see cref="LoopbackReceiver"/> cannot give (bodies that never end, cookies, headers).
/// </summary>
internal sealed class RawReceiver : IAsyncDisposable
{
    private WebApplication? _app;

    public Uri Endpoint { get; private set; } = null!;

    public static async Task<RawReceiver> StartAsync(RequestDelegate handler)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        app.MapPost("/signout-backchannel", handler);
        await app.StartAsync();
        return new RawReceiver { _app = app, Endpoint = new Uri($"http://127.0.0.1:{new Uri(app.Urls.First()).Port}/signout-backchannel") };
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await _app.StopAsync(stop.Token);
            await _app.DisposeAsync();
        }
    }
}
