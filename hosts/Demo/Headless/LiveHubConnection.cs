using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace AutoSignOut.Demo.Headless;

/// <summary>A live connection to the client app's chat hub, by cookie or by bearer token, that notes when it closes and why.</summary>
internal sealed class LiveHubConnection : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource<long> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private LiveHubConnection(HubConnection connection, string name)
    {
        _connection = connection;
        Name = name;
        _connection.On<string?>("signedOut", reason => SignedOutReason = reason ?? "(none)");
        _connection.Closed += _ =>
        {
            _closed.TrySetResult(Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        };
    }

    public string Name { get; }

    public string? SignedOutReason { get; private set; }

    public bool IsOpen => _connection.State == HubConnectionState.Connected;

    /// <summary>Completes with the <see cref="Stopwatch"/> timestamp of the close.</summary>
    public Task<long> Closed => _closed.Task;

    /// <summary>Connects with a cookie (copied, so later changes to the jar do not matter) or a bearer token.</summary>
    public static async Task<LiveHubConnection> ConnectAsync(Uri hub, string name, IReadOnlyList<Cookie>? cookies, string? accessToken, CancellationToken cancellationToken)
    {
        var connection = Build(hub, cookies, accessToken);
        var live = new LiveHubConnection(connection, name);
        await connection.StartAsync(cancellationToken);

        // A round trip proves the server ran the hub filter (which registers the connection) and the hub itself.
        await connection.InvokeAsync("Send", $"{name} is here", cancellationToken);
        return live;
    }

    /// <summary>Tries to connect again with the same credential: the answer a revoked cookie or token should get.</summary>
    public static async Task<string> TryReconnectAsync(Uri hub, IReadOnlyList<Cookie>? cookies, string? accessToken, CancellationToken cancellationToken)
    {
        await using var connection = Build(hub, cookies, accessToken);
        var signedOut = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.On<string?>("signedOut", reason => signedOut.TrySetResult(reason));
        try
        {
            await connection.StartAsync(cancellationToken);
            await connection.InvokeAsync("Send", "still here?", cancellationToken);
            return "ACCEPTED";
        }
        catch (HttpRequestException e) when (e.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
        {
            return $"refused ({(int)e.StatusCode.Value} at negotiate)";
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return signedOut.Task.IsCompleted ? $"refused (signedOut: {signedOut.Task.Result})" : $"refused ({e.GetType().Name}: {e.Message})";
        }
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private static HubConnection Build(Uri hub, IReadOnlyList<Cookie>? cookies, string? accessToken) =>
        new HubConnectionBuilder()
            .WithUrl(hub, HttpTransportType.WebSockets, o =>
            {
                foreach (var cookie in cookies ?? [])
                {
                    o.Cookies.Add(hub, new Cookie(cookie.Name, cookie.Value, "/", hub.Host));
                }

                if (accessToken is not null)
                {
                    o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken);
                }
            })
            .Build();
}
