using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace IdpBench;

/// <summary>What the IdP benches share (bench/DuendeBench links this file): loopback ports, a live hub connection, percentiles.</summary>
internal static class BenchMeasures
{
    /// <summary>A bearer hub connection over WebSockets, after one round trip (the hub filter registered it under its sid and jti).</summary>
    public static async Task<HubConnection> ConnectAsync(Uri hub, string accessToken)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(hub, HttpTransportType.WebSockets, o => o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken))
            .Build();
        await connection.StartAsync();
        await connection.InvokeAsync("Send", "bench");
        return connection;
    }

    /// <summary>The nearest-rank percentile <paramref name="p"/> (0-100) of <paramref name="values"/>.</summary>
    public static double Percentile(List<double> values, double p)
    {
        var sorted = values.Order().ToList();
        var rank = (int)Math.Ceiling(p / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    /// <summary>Milliseconds between two <see cref="Stopwatch.GetTimestamp"/> readings.</summary>
    public static double Ms(long from, long to) => (to - from) * 1000.0 / Stopwatch.Frequency;

    /// <summary>A free loopback port, as a base URL.</summary>
    public static string FreeLoopbackUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }
}
