using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis.Tests.Infrastructure;

/// <summary>
/// The Redis the tests use: the shared server eng/redis.sh started (AUTOSIGNOUT_TEST_REDIS), each test under its own
/// key prefix; or, for a test that stops and restarts Redis, a private redis-server process on a free port.
/// Inconclusive when neither is available.
/// </summary>
internal static class TestRedis
{
    public const string Variable = "AUTOSIGNOUT_TEST_REDIS";
    public const string ServerVariable = "AUTOSIGNOUT_TEST_REDIS_SERVER";

    public static string SharedConfiguration()
    {
        var configuration = Environment.GetEnvironmentVariable(Variable);
        if (string.IsNullOrEmpty(configuration))
        {
            Assert.Inconclusive($"{Variable} is not set: run eng/redis.sh start (eng/test.sh does).");
        }

        return configuration;
    }

    public static string NewPrefix() => "test-" + Guid.NewGuid().ToString("N")[..12] + ":";
}

/// <summary>A redis-server process of the test's own, without persistence, that the test can stop and start again on the same port.</summary>
internal sealed class PrivateRedisServer : IAsyncDisposable
{
    private readonly string _executable;
    private readonly string _directory;
    private Process? _process;

    private PrivateRedisServer(string executable, int port)
    {
        _executable = executable;
        Port = port;
        _directory = Directory.CreateTempSubdirectory("autosignout-redis-test").FullName;
    }

    public int Port { get; }

    public string Configuration => "127.0.0.1:" + Port;

    public static async Task<PrivateRedisServer> StartAsync()
    {
        var executable = Environment.GetEnvironmentVariable(TestRedis.ServerVariable);
        if (string.IsNullOrEmpty(executable))
        {
            executable = new[] { "/usr/bin/redis-server", "/usr/local/bin/redis-server" }.FirstOrDefault(File.Exists);
        }

        if (string.IsNullOrEmpty(executable) || !File.Exists(executable))
        {
            Assert.Inconclusive($"No redis-server: set {TestRedis.ServerVariable} (eng/redis.sh start prints it).");
        }

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var server = new PrivateRedisServer(executable, port);
        await server.StartAgainAsync();
        return server;
    }

    /// <summary>Starts the server (empty: no persistence) and waits until it answers.</summary>
    public async Task StartAgainAsync()
    {
        var start = new ProcessStartInfo(_executable)
        {
            ArgumentList = { "--bind", "127.0.0.1", "--port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--dir", _directory, "--save", string.Empty, "--appendonly", "no" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginErrorReadLine();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await using var connection = await ConnectionMultiplexer.ConnectAsync(Configuration + ",connectTimeout=500");
                await connection.GetDatabase().PingAsync();
                return;
            }
            catch (RedisConnectionException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    /// <summary>Kills the server, as a crash or a network cut would end it.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }

        _process?.Dispose();
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_directory, recursive: true);
    }
}
