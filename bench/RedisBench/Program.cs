using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using AutoSignOut.AspNetCore;
using AutoSignOut.Bench;
using AutoSignOut.RedisBench;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.IdentityModel.Tokens;
using StackExchange.Redis;

// Issue 9's benchmark: three client-app nodes sharing one Redis beside one node alone (no Redis), in one run.
//   eval "$(bash eng/redis.sh start)"
//   dotnet run -c Release --project bench/RedisBench -- [--redis host:port] [--connections 3000] [--samples 200] [--user-connections 300] [--out FILE]
if (args.Length >= 2 && args[0] == "--serve")
{
    await NodeServer.RunAsync(args[1], args.Length > 2 ? args[2] : null, args.Length > 3 ? args[3] : null);
    return;
}

var redis = Arg("--redis", Environment.GetEnvironmentVariable("AUTOSIGNOUT_TEST_REDIS") ?? string.Empty);
if (redis.Length == 0)
{
    Console.Error.WriteLine("No Redis: pass --redis host:port or run eval \"$(bash eng/redis.sh start)\" first.");
    Environment.Exit(2);
}

var perNode = int.Parse(Arg("--connections", "3000"), CultureInfo.InvariantCulture);
var samples = int.Parse(Arg("--samples", "200"), CultureInfo.InvariantCulture);
var userConnections = int.Parse(Arg("--user-connections", "300"), CultureInfo.InvariantCulture);
var output = Arg("--out", Path.Combine("bench", "results", "redis-bench.md"));
const int warmup = 20;
const int rounds = 5;
var take = samples + warmup;
if (take > perNode)
{
    throw new ArgumentException("--samples + 20 must not exceed --connections");
}

using var rsa = RSA.Create(2048);
var publicKey = Convert.ToBase64String(rsa.ExportRSAPublicKey());
var prefix = "bench-" + Guid.NewGuid().ToString("N")[..8] + ":";
await using var admin = await ConnectionMultiplexer.ConnectAsync(redis + ",allowAdmin=true");
var redisServer = admin.GetServer(admin.GetEndPoints()[0]);

await using var node1 = await NodeProcess.StartAsync(publicKey, redis, prefix);
await using var node2 = await NodeProcess.StartAsync(publicKey, redis, prefix);
await using var node3 = await NodeProcess.StartAsync(publicKey, redis, prefix);
await using var single = await NodeProcess.StartAsync(publicKey, null, null);
var cluster = new[] { node1, node2, node3 };
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 });

// Connections: on each cluster node, one connection of each sample session (sample-i, on every node) and filler
// sessions up to --connections; on the single node, one connection per sample session (alone-i) and filler.
var watch = Stopwatch.StartNew();
var clusterSamples = new Session[3][];
for (var n = 0; n < 3; n++)
{
    clusterSamples[n] = await ConnectManyAsync(cluster[n].Url, Enumerable.Range(0, take).Select(i => ($"u-sample-{i}", $"sample-{i}")));
}

var filler = new List<Session>();
for (var n = 0; n < 3; n++)
{
    filler.AddRange(await ConnectManyAsync(cluster[n].Url, Enumerable.Range(0, perNode - take).Select(i => ($"u-fill-{n}-{i / 10}", $"fill-{n}-{i}"))));
}

var aloneSamples = await ConnectManyAsync(single.Url, Enumerable.Range(0, take).Select(i => ($"u-alone-{i}", $"alone-{i}")));
filler.AddRange(await ConnectManyAsync(single.Url, Enumerable.Range(0, perNode - take).Select(i => ($"u-afill-{i / 10}", $"afill-{i}"))));
var registries = new List<string>();
foreach (var node in cluster.Append(single))
{
    registries.Add(await http.GetStringAsync(node.Url + "/registry"));
}

Console.WriteLine($"connected {3 * perNode + perNode} in {watch.Elapsed.TotalSeconds:0.0} s; registries (node 1, 2, 3, alone): {string.Join(", ", registries)}");

// Background: what the nodes send Redis while nothing happens (the 1 s poll of each node), per second.
var idleBefore = await CommandCallsAsync(redisServer);
var idleWatch = Stopwatch.StartNew();
await Task.Delay(TimeSpan.FromSeconds(5));
var idle = Per(Delta(idleBefore, await CommandCallsAsync(redisServer)), idleWatch.Elapsed.TotalSeconds);

// 1. One session: logout token to node 1 -> its connection on node 3 closed (and, for reference, on node 1),
//    alternating with the single node: logout token -> its connection closed. The first 20 pairs warm up.
var crossNode = new List<double>();
var sameNodeInCluster = new List<double>();
var alone = new List<double>();
Dictionary<string, long>? signalsBefore = null;
var signalWatch = new Stopwatch();
for (var i = 0; i < take; i++)
{
    if (i == warmup)
    {
        crossNode.Clear();
        sameNodeInCluster.Clear();
        alone.Clear();
        signalsBefore = await CommandCallsAsync(redisServer);
        signalWatch.Start();
    }

    var start = Stopwatch.GetTimestamp();
    (await PostLogoutAsync(http, node1.Url, LogoutToken(rsa, $"u-sample-{i}", $"sample-{i}"))).EnsureSuccessStatusCode();
    crossNode.Add(Stopwatch.GetElapsedTime(start, await clusterSamples[2][i].ClosedAsync()).TotalMilliseconds);
    sameNodeInCluster.Add(Stopwatch.GetElapsedTime(start, await clusterSamples[0][i].ClosedAsync()).TotalMilliseconds);
    await clusterSamples[1][i].ClosedAsync();

    start = Stopwatch.GetTimestamp();
    (await PostLogoutAsync(http, single.Url, LogoutToken(rsa, $"u-alone-{i}", $"alone-{i}"))).EnsureSuccessStatusCode();
    alone.Add(Stopwatch.GetElapsedTime(start, await aloneSamples[i].ClosedAsync()).TotalMilliseconds);
}

signalWatch.Stop();
var perSignal = Delta(signalsBefore!, await CommandCallsAsync(redisServer));

// 2. Requests: the revoked sample sessions' credentials (refused, 401) and filler sessions' (served, 200), spread
//    over the three nodes, counting Redis commands around each batch.
var refusedCount = samples * 3;
var refused = await CountDuringAsync(redisServer, () => RequestsAsync(http, cluster, Enumerable.Range(warmup, samples).SelectMany(i => Enumerable.Range(0, 3).Select(n => (n, $"u-sample-{i}", $"sample-{i}"))), 401));
var served = await CountDuringAsync(redisServer, () => RequestsAsync(http, cluster, Enumerable.Range(0, refusedCount).Select(i => (i % 3, $"u-fill-{i % 3}-{i / 30}", $"fill-{i % 3}-{i / 3}")), 200));

// 3. Sign out everywhere: a user with --user-connections connections spread over the three nodes; a sub-only
//    logout token to node 1 -> all closed. Beside the same user's connections all on the single node.
var everywhere = new List<double>();
var everywhereAlone = new List<double>();
for (var round = 0; round < rounds; round++)
{
    var spread = new List<Session>();
    for (var n = 0; n < 3; n++)
    {
        var count = (userConnections / 3) + (n < userConnections % 3 ? 1 : 0);
        spread.AddRange(await ConnectManyAsync(cluster[n].Url, Enumerable.Range(0, count).Select(j => ($"heavy-{round}", $"heavy-{round}-{n}-{j}"))));
    }

    var lonely = await ConnectManyAsync(single.Url, Enumerable.Range(0, userConnections).Select(j => ($"heavy-alone-{round}", $"heavy-alone-{round}-{j}")));

    var start = Stopwatch.GetTimestamp();
    (await PostLogoutAsync(http, node1.Url, LogoutToken(rsa, $"heavy-{round}", null))).EnsureSuccessStatusCode();
    everywhere.Add(Stopwatch.GetElapsedTime(start, (await Task.WhenAll(spread.Select(s => s.ClosedAsync()))).Max()).TotalMilliseconds);

    start = Stopwatch.GetTimestamp();
    (await PostLogoutAsync(http, single.Url, LogoutToken(rsa, $"heavy-alone-{round}", null))).EnsureSuccessStatusCode();
    everywhereAlone.Add(Stopwatch.GetElapsedTime(start, (await Task.WhenAll(lonely.Select(s => s.ClosedAsync()))).Max()).TotalMilliseconds);
    await Task.WhenAll(spread.Concat(lonely).Select(s => s.DisposeAsync().AsTask()));
}

var report = new StringBuilder();
report.AppendLine(CultureInfo.InvariantCulture, $"# Redis benchmark ({DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version})");
report.AppendLine();
report.AppendLine(CultureInfo.InvariantCulture, $"Three node processes sharing one redis-server ({(await redisServer.InfoAsync("server")).SelectMany(g => g).FirstOrDefault(p => p.Key == "redis_version").Value}) and a fourth node alone (no Redis), all on 127.0.0.1, with");
report.AppendLine(CultureInfo.InvariantCulture, $"{perNode:N0} live WebSocket connections each ({4 * perNode:N0} in the one client process); {samples} samples after {warmup} warm-up pairs, alternating.");
report.AppendLine();
report.AppendLine("| measure | 3 nodes + Redis | node alone | ratio | goal |");
report.AppendLine("|---|---|---|---|---|");
report.AppendLine(CultureInfo.InvariantCulture, $"| logout token to node 1 -> connection on node 3 `Closed`, p50 | {P(crossNode, 50):0.00} ms | {P(alone, 50):0.00} ms | {P(crossNode, 50) / P(alone, 50):0.00}x | |");
report.AppendLine(CultureInfo.InvariantCulture, $"| logout token to node 1 -> connection on node 3 `Closed`, p99 | {P(crossNode, 99):0.00} ms | {P(alone, 99):0.00} ms | {P(crossNode, 99) / P(alone, 99):0.00}x | <= 2x |");
report.AppendLine(CultureInfo.InvariantCulture, $"| (reference) same token -> connection on node 1 `Closed`, p50 / p99 | {P(sameNodeInCluster, 50):0.00} / {P(sameNodeInCluster, 99):0.00} ms | | | |");
report.AppendLine(CultureInfo.InvariantCulture, $"| sign out everywhere: user with {userConnections} connections ({userConnections / 3} per node) -> all `Closed`, median / max of {rounds} | {P(everywhere, 50):0.0} / {everywhere.Max():0.0} ms | {P(everywhereAlone, 50):0.0} / {everywhereAlone.Max():0.0} ms | {P(everywhere, 50) / P(everywhereAlone, 50):0.00}x | |");
report.AppendLine();
report.AppendLine("Redis commands (`INFO commandstats`, every client of the server; `info` of the bench itself left out):");
report.AppendLine();
report.AppendLine("| window | commands | per item | of which the nodes' idle background (1 s poll), expected |");
report.AppendLine("|---|---|---|---|");
report.AppendLine(CultureInfo.InvariantCulture, $"| idle, per second | {Format(idle)} | | |");
report.AppendLine(CultureInfo.InvariantCulture, $"| {samples} signals (logout token to node 1, applied on all 3), {signalWatch.Elapsed.TotalSeconds:0.0} s | {Format(perSignal)} | {Format(Per(perSignal, samples))} per signal | {Format(Scale(idle, signalWatch.Elapsed.TotalSeconds))} |");
report.AppendLine(CultureInfo.InvariantCulture, $"| {refusedCount} refused requests (revoked sessions, 401, spread over 3 nodes), {refused.Seconds:0.00} s | {Format(refused.Calls)} | {Format(Per(refused.Calls, refusedCount))} per request | {Format(Scale(idle, refused.Seconds))} |");
report.AppendLine(CultureInfo.InvariantCulture, $"| {refusedCount} served requests (sessions not revoked, 200), {served.Seconds:0.00} s | {Format(served.Calls)} | {Format(Per(served.Calls, refusedCount))} per request | {Format(Scale(idle, served.Seconds))} |");
report.AppendLine();
Console.WriteLine(report);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
await File.WriteAllTextAsync(output, report.ToString());
Console.WriteLine("written to " + output);
await Task.WhenAll(filler.Concat(clusterSamples.SelectMany(s => s)).Concat(aloneSamples).Select(s => s.DisposeAsync().AsTask()));
await admin.GetDatabase().KeyDeleteAsync(prefix + "signals");

string Arg(string name, string fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

static double P(List<double> values, int percentile)
{
    var sorted = values.Order().ToArray();
    return sorted[Math.Clamp((int)Math.Ceiling(percentile / 100.0 * sorted.Length) - 1, 0, sorted.Length - 1)];
}

static async Task<Session[]> ConnectManyAsync(string url, IEnumerable<(string User, string Sid)> sessions)
{
    var result = new List<Session>();
    foreach (var batch in sessions.Chunk(250))
    {
        result.AddRange(await Task.WhenAll(batch.Select(s => Session.ConnectAsync(url, s.User, s.Sid))));
    }

    return [.. result];
}

static async Task RequestsAsync(HttpClient http, NodeProcess[] nodes, IEnumerable<(int Node, string User, string Sid)> requests, int expected)
{
    var queue = new Queue<(int Node, string User, string Sid)>(requests);
    await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
    {
        while (true)
        {
            (int Node, string User, string Sid) next;
            lock (queue)
            {
                if (!queue.TryDequeue(out next))
                {
                    return;
                }
            }

            using var response = await http.GetAsync($"{nodes[next.Node].Url}/check?user={next.User}&sid={next.Sid}");
            if ((int)response.StatusCode != expected)
            {
                throw new InvalidOperationException($"{next.Sid} on node {next.Node + 1}: {(int)response.StatusCode}, expected {expected}");
            }
        }
    }));
}

static async Task<(Dictionary<string, long> Calls, double Seconds)> CountDuringAsync(IServer server, Func<Task> action)
{
    var before = await CommandCallsAsync(server);
    var watch = Stopwatch.StartNew();
    await action();
    watch.Stop();
    return (Delta(before, await CommandCallsAsync(server)), watch.Elapsed.TotalSeconds);
}

static async Task<Dictionary<string, long>> CommandCallsAsync(IServer server)
{
    var info = await server.InfoRawAsync("commandstats");
    return info!.Split('\n')
        .Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
        .Select(l => (Name: l[8..l.IndexOf(':', StringComparison.Ordinal)], Calls: long.Parse(l.Split("calls=")[1].Split(',')[0], CultureInfo.InvariantCulture)))
        .Where(c => c.Name != "info")
        .ToDictionary(c => c.Name, c => c.Calls);
}

static Dictionary<string, long> Delta(Dictionary<string, long> before, Dictionary<string, long> after) =>
    after.Select(a => (a.Key, Value: a.Value - before.GetValueOrDefault(a.Key))).Where(a => a.Value != 0).ToDictionary(a => a.Key, a => a.Value);

static Dictionary<string, double> Per(Dictionary<string, long> calls, double divisor) => calls.ToDictionary(c => c.Key, c => c.Value / divisor);

static Dictionary<string, double> Scale(Dictionary<string, double> rate, double seconds) => rate.ToDictionary(c => c.Key, c => c.Value * seconds);

static string Format<T>(Dictionary<string, T> calls)
    where T : IFormattable =>
    calls.Count == 0 ? "none" : string.Join(", ", calls.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} {c.Value.ToString(c.Value is double ? "0.##" : null, CultureInfo.InvariantCulture)}"));

static string LogoutToken(RSA key, string? sub, string? sid) => BenchLogoutTokens.Create(key, NodeServer.Issuer, NodeServer.ClientId, sub, sid);

static Task<HttpResponseMessage> PostLogoutAsync(HttpClient http, string node, string token) =>
    http.PostAsync(node + AutoSignOutDefaults.BackChannelLogoutPath, new FormUrlEncodedContent([new("logout_token", token)]));

/// <summary>One live hub connection and the moment its client saw it closed.</summary>
internal sealed class Session : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource<long> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Session(HubConnection connection)
    {
        _connection = connection;
        connection.Closed += _ =>
        {
            _closed.TrySetResult(Stopwatch.GetTimestamp());
            return Task.CompletedTask;
        };
    }

    public static async Task<Session> ConnectAsync(string url, string user, string sid)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl($"{url}/hub?user={user}&sid={sid}", HttpTransportType.WebSockets, o => o.SkipNegotiation = true)
            .Build();
        var session = new Session(connection);
        await connection.StartAsync();
        return session;
    }

    /// <summary>The timestamp of the close; a connection not closed within 30 s fails the run.</summary>
    public Task<long> ClosedAsync() => _closed.Task.WaitAsync(TimeSpan.FromSeconds(30));

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}

/// <summary>A node in its own process (each process may hold its own open files).</summary>
internal sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;

    private NodeProcess(Process process, string url)
    {
        _process = process;
        Url = url;
    }

    public string Url { get; }

    public static async Task<NodeProcess> StartAsync(string publicKey, string? redis, string? prefix)
    {
        var self = Environment.ProcessPath!;
        var info = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            info.ArgumentList.Add(typeof(NodeProcess).Assembly.Location);
        }

        info.ArgumentList.Add("--serve");
        info.ArgumentList.Add(publicKey);
        if (redis is not null)
        {
            info.ArgumentList.Add(redis);
            info.ArgumentList.Add(prefix!);
        }

        var process = Process.Start(info)!;
        while (await process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line.StartsWith("LISTENING ", StringComparison.Ordinal))
            {
                return new NodeProcess(process, line["LISTENING ".Length..].TrimEnd('/'));
            }
        }

        throw new InvalidOperationException("A node did not start.");
    }

    public async ValueTask DisposeAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }
}
