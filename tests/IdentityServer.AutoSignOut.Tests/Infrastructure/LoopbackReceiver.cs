using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// A plain back-channel endpoint on loopback Kestrel that records every token and answers as the test says. Used
/// where a test needs to control the answers or the time the answer takes; the end-to-end tests use the real client
/// middleware instead.
/// </summary>
internal sealed class LoopbackReceiver : IAsyncDisposable
{
    private readonly Func<HttpContext, JsonWebToken, Task<int>> _answer;
    private WebApplication? _app;
    private int _port;

    private LoopbackReceiver(Func<HttpContext, JsonWebToken, Task<int>> answer) => _answer = answer;

    public ConcurrentQueue<JsonWebToken> Accepted { get; } = new();

    public int Requests => _requests;

    private int _requests;

    public Uri Endpoint => new($"http://127.0.0.1:{_port}/signout-backchannel");

    public static async Task<LoopbackReceiver> StartAsync(Func<HttpContext, JsonWebToken, Task<int>>? answer = null)
    {
        var receiver = new LoopbackReceiver(answer ?? ((_, _) => Task.FromResult(200)));
        await receiver.StartOnAsync(0);
        return receiver;
    }

    /// <summary>Starts a receiver on a given port (one that was refusing connections until now).</summary>
    public static async Task<LoopbackReceiver> StartOnPortAsync(int port, Func<HttpContext, JsonWebToken, Task<int>>? answer = null)
    {
        var receiver = new LoopbackReceiver(answer ?? ((_, _) => Task.FromResult(200)));
        await receiver.StartOnAsync(port);
        return receiver;
    }

    /// <summary>A loopback port nothing listens on (for now): connections to it are refused.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Stops listening: attempts now meet "connection refused".</summary>
    public async Task StopAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
            _app = null;
        }
    }

    /// <summary>Listens again on the same port.</summary>
    public Task RestartAsync() => StartOnAsync(_port);

    private async Task StartOnAsync(int port)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        app.MapPost("/signout-backchannel", async context =>
        {
            Interlocked.Increment(ref _requests);
            var form = await context.Request.ReadFormAsync();
            var token = new JsonWebToken(form["logout_token"].ToString());
            var status = await _answer(context, token);
            if (status == 200)
            {
                Accepted.Enqueue(token);
            }

            context.Response.StatusCode = status;
        });
        await app.StartAsync();
        _port = new Uri(app.Urls.First()).Port;
        _app = app;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
