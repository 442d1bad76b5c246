using System.Net;
using System.Net.Sockets;
using System.Text;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// A back-channel endpoint on a raw loopback socket that answers every request with a 400 whose chunked body never
/// ends, counting the bytes the peer let it write (a socket write waits for the peer to read) and the connections the
/// peer closed.
/// </summary>
internal sealed class EndlessBodyServer : IAsyncDisposable
{
    private static readonly byte[] Head = Encoding.ASCII.GetBytes("HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n");
    private static readonly byte[] Chunk = Encoding.ASCII.GetBytes("1000\r\n" + new string('x', 4096) + "\r\n");

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private long _written;
    private int _closed;
    private Task _accepting = Task.CompletedTask;

    public Uri Endpoint => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/signout-backchannel");

    public long Written => Interlocked.Read(ref _written);

    public int Closed => Volatile.Read(ref _closed);

    public static Task<EndlessBodyServer> StartAsync()
    {
        var server = new EndlessBodyServer();
        server._listener.Start();
        server._accepting = server.AcceptAsync();
        return Task.FromResult(server);
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _accepting;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token);
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        try
        {
            // Read the request head; the small form body stays in the socket buffer, unread.
            var buffer = new byte[8192];
            var seen = new StringBuilder();
            while (!seen.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
            {
                var n = await stream.ReadAsync(buffer, _stop.Token);
                if (n == 0)
                {
                    return;
                }

                seen.Append(Encoding.ASCII.GetString(buffer, 0, n));
            }

            await stream.WriteAsync(Head, _stop.Token);
            while (!_stop.IsCancellationRequested)
            {
                await stream.WriteAsync(Chunk, _stop.Token);
                Interlocked.Add(ref _written, Chunk.Length);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
        }
        finally
        {
            Interlocked.Increment(ref _closed);
        }
    }
}
