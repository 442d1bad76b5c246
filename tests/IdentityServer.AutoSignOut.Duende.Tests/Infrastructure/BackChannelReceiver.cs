using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;

/// <summary>
/// A client's back-channel logout endpoint as the IdP sees it, on Kestrel at 127.0.0.1, in front of the real client
/// app: it forwards each logout token to the client app's own endpoint and answers what the client app answers, unless
/// told to be down (not listening), to fail (500) or to be slow. It counts what reaches the client app.
/// </summary>
internal sealed class BackChannelReceiver : IAsyncDisposable
{
    private const string Path = "/signout-backchannel";

    private readonly int _port = TestIdentityServer.FreePort();
    private readonly HttpClient _forward = new() { Timeout = TimeSpan.FromSeconds(30) };
    private WebApplication? _app;
    private int _failuresLeft;
    private int _received;
    private int _delivered;

    /// <summary>The back-channel logout URI to register at the IdP.</summary>
    public string Uri => $"http://127.0.0.1:{_port}{Path}";

    /// <summary>The client app's own back-channel endpoint, where tokens are forwarded; set once the client app's address is known.</summary>
    public string? Target { get; set; }

    /// <summary>How long each request waits before it is forwarded.</summary>
    public TimeSpan Delay { get; set; }

    /// <summary>Requests that reached this endpoint while it listened.</summary>
    public int Received => Volatile.Read(ref _received);

    /// <summary>Logout tokens the client app accepted (answered 200).</summary>
    public int Delivered => Volatile.Read(ref _delivered);

    /// <summary>Whether it listens.</summary>
    public bool IsListening => _app is not null;

    /// <summary>Answers the next <paramref name="count"/> requests with 500 instead of forwarding them.</summary>
    public void FailNext(int count) => Volatile.Write(ref _failuresLeft, count);

    /// <summary>Back to forwarding at once, with the counts at zero.</summary>
    public void Reset()
    {
        Delay = TimeSpan.Zero;
        Volatile.Write(ref _failuresLeft, 0);
        Volatile.Write(ref _received, 0);
        Volatile.Write(ref _delivered, 0);
    }

    /// <summary>Starts listening (again, on the same port).</summary>
    public async Task StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{_port}");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.MapPost(Path, (Delegate)ReceiveAsync);
        await app.StartAsync();
        _app = app;
    }

    /// <summary>Stops listening: the IdP's connections are refused, as with a client that is down.</summary>
    public async Task StopAsync()
    {
        if (_app is { } app)
        {
            _app = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _forward.Dispose();
    }

    private async Task<IResult> ReceiveAsync(HttpContext http)
    {
        Interlocked.Increment(ref _received);
        if (Interlocked.Decrement(ref _failuresLeft) >= 0)
        {
            return Results.StatusCode(StatusCodes.Status500InternalServerError);
        }

        var form = await http.Request.ReadFormAsync();
        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay);
        }

        using var content = new FormUrlEncodedContent(form.Select(f => KeyValuePair.Create(f.Key, f.Value.ToString())));
        using var answer = await _forward.PostAsync(Target, content);
        if (answer.IsSuccessStatusCode)
        {
            Interlocked.Increment(ref _delivered);
        }

        return Results.StatusCode((int)answer.StatusCode);
    }
}
