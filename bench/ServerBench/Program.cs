// ServerBench: deliveries per second of the AutoSignOut server engine to healthy loopback receivers, beside the raw
// RS256 signing rate measured in the same run, on SQLite and (when AUTOSIGNOUT_TEST_POSTGRES is set) PostgreSQL; and
// enqueue -> delivered latency on an idle system. Figures are ratios and percentiles from this one run.
//
// Then, on SQLite as registered by default (and PostgreSQL when set): the revocation call itself as a logout waits for
// it (8 callers, four clients per call), healthy clients' latency beside a dead client's 10,000 pending rows, and the
// drain time of a backlog to a limping client (each token refused with a 500 twice, then accepted).
//
//   dotnet run -c Release --project bench/ServerBench [-- --notifications 4000 --latency-samples 300 --callers 64 --repeat 3 --only SQLite --no-extras --out table.md]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Npgsql;

var notifications = ArgInt("--notifications", 4000);
var latencySamples = ArgInt("--latency-samples", 300);
var callers = ArgInt("--callers", 64);
var repeat = ArgInt("--repeat", 1);
var only = ArgString("--only");
var extras = !args.Contains("--no-extras");
// --extras-only skips the throughput table; --extra dead,call,limp picks which of the extra measurements run.
var rows = !args.Contains("--extras-only");
var extraNames = (ArgString("--extra") ?? "call,dead,limp").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
var revocationCalls = ArgInt("--revocation-calls", 2000);
var deadBacklog = ArgInt("--dead-backlog", 10_000);
var limpingBacklog = ArgInt("--limping-backlog", 200);
const int Receivers = 4;
const int RevocationCallers = 8;

using var rsa = RSA.Create(2048);
var key = new RsaSecurityKey(rsa) { KeyId = "bench-key" };
var signing = new SigningCredentials(key, SecurityAlgorithms.RsaSha256);

Console.WriteLine($"ServerBench on {Environment.ProcessorCount} cores, .NET {Environment.Version}; {notifications} notifications per run, {Receivers} loopback receivers, {callers} concurrent callers.");
Console.WriteLine();

var signsPerCore = MeasureSigning(rsa, threads: 1);
var signsAllCores = MeasureSigning(rsa, threads: Environment.ProcessorCount);
Console.WriteLine($"raw RS256 signatures/s       1 core: {signsPerCore,8:F0}    {Environment.ProcessorCount} cores: {signsAllCores,8:F0}");
Console.WriteLine();

var receivers = new List<Receiver>();
for (var i = 0; i < Receivers; i++)
{
    receivers.Add(await Receiver.StartAsync());
}

var results = new List<(string Db, double Signs, double PerSecond, double P50, double P99, double Max)>();
for (var round = 1; rows && round <= repeat; round++)
{
    if (repeat > 1)
    {
        Console.WriteLine($"-- round {round} of {repeat}");
    }

    foreach (var (name, use, cleanup) in Databases())
    {
        if (only is not null && !name.Contains(only, StringComparison.OrdinalIgnoreCase))
        {
            await cleanup();
            continue;
        }

        // The machine is shared: the signing rate is measured again right before each row's run, and the row's
        // ratio uses that figure, so that load from elsewhere moves both sides of the ratio together.
        var signs = MeasureSigning(rsa, threads: 1);
        var throughput = await MeasureThroughputAsync(use, name);
        var (p50, p99, max) = await MeasureLatencyAsync(use);
        results.Add((name, signs, throughput, p50, p99, max));
        await cleanup();
    }
}

var table = new System.Text.StringBuilder();
table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Raw RS256 signatures/s at the start: {signsPerCore:F0} on 1 core, {signsAllCores:F0} on {Environment.ProcessorCount} cores."));
table.AppendLine(string.Create(CultureInfo.InvariantCulture, $"{notifications} notifications per row, {callers} concurrent callers, {Receivers} loopback receivers; {latencySamples} latency samples; median of {repeat} round(s) per row (the ratio is the median of the rounds' ratios)."));
table.AppendLine();
table.AppendLine("| outbox | deliveries/s | RS256 signs/s, 1 core, just before | ratio | enqueue->delivered p50 | p99 | max |");
table.AppendLine("|---|---|---|---|---|---|---|");
foreach (var row in results.GroupBy(r => r.Db))
{
    table.AppendLine(string.Create(CultureInfo.InvariantCulture,
        $"| {row.Key} | {Median(row.Select(r => r.PerSecond)):F0} | {Median(row.Select(r => r.Signs)):F0} | {Median(row.Select(r => r.PerSecond / r.Signs)):F2}x | {Median(row.Select(r => r.P50)):F2} ms | {Median(row.Select(r => r.P99)):F2} ms | {row.Max(r => r.Max):F2} ms |"));
}

var extraRows = new List<string>();
if (extras)
{
    foreach (var (name, use, cleanup) in Databases())
    {
        if (use is null || name.Contains("FULL", StringComparison.Ordinal) || (only is not null && !name.Contains(only, StringComparison.OrdinalIgnoreCase)))
        {
            await cleanup();
            continue;
        }

        var db = name.StartsWith("SQLite", StringComparison.Ordinal) ? "SQLite (WAL)" : name;
        for (var round = 1; round <= (rows ? 1 : repeat); round++)
        {
            if (extraNames.Contains("call"))
            {
                var call = await MeasureRevocationCallAsync(use);
                extraRows.Add(string.Create(CultureInfo.InvariantCulture, $"| {db} | revocation call, {RevocationCallers} concurrent callers, {Receivers} clients per call, {revocationCalls} calls after 400 warm-up | p50 {call.P50:F2} ms, p99 {call.P99:F2} ms, max {call.Max:F2} ms |"));
            }

            if (extraNames.Contains("dead"))
            {
                var dead = await MeasureDeadClientAsync(use);
                extraRows.Add(string.Create(CultureInfo.InvariantCulture, $"| {db} | healthy client's enqueue->delivered, same engine, before the dead client's backlog | p50 {dead.Before.P50:F2} ms, p99 {dead.Before.P99:F2} ms, max {dead.Before.Max:F2} ms |"));
                extraRows.Add(string.Create(CultureInfo.InvariantCulture, $"| {db} | ... beside a dead client (connection refused) holding {dead.Pending} pending rows | p50 {dead.After.P50:F2} ms, p99 {dead.After.P99:F2} ms, max {dead.After.Max:F2} ms; p99 ratio {dead.After.P99 / dead.Before.P99:F2}x |"));
            }

            if (extraNames.Contains("limp"))
            {
                var limping = await MeasureLimpingDrainAsync(use);
                extraRows.Add(string.Create(CultureInfo.InvariantCulture, $"| {db} | drain of {limpingBacklog} sign-outs to a limping client (500, 500, then 200 for each session) | {limping.Seconds:F1} s, {limping.Requests} requests |"));
            }
        }

        await cleanup();
    }
}

if (extraRows.Count > 0)
{
    table.AppendLine();
    table.AppendLine("| outbox | measurement | result |");
    table.AppendLine("|---|---|---|");
    foreach (var row in extraRows)
    {
        table.AppendLine(row);
    }
}

Console.WriteLine();
Console.Write(table);
var output = ArgString("--out");
if (output is not null)
{
    await File.WriteAllTextAsync(output, table.ToString());
    Console.WriteLine($"Written to {output}.");
}

foreach (var receiver in receivers)
{
    await receiver.DisposeAsync();
}

return;

async Task<double> MeasureThroughputAsync(Action<DbContextOptionsBuilder>? use, string name)
{
    // Warm-up run (JIT, connection pools, HTTP connections), then the measured run on a fresh engine.
    await RunBatchAsync(use, Math.Min(500, notifications), quiet: true);
    var perSecond = await RunBatchAsync(use, notifications, quiet: false);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {notifications} notifications delivered at {perSecond:F0}/s (enqueue of the first to acceptance of the last)"));
    return perSecond;
}

async Task<double> RunBatchAsync(Action<DbContextOptionsBuilder>? use, int count, bool quiet)
{
    await using var engine = await StartEngineAsync(use);
    var server = engine.Services.GetRequiredService<IAutoSignOutServer>();
    var before = receivers.Sum(r => r.Accepted);
    var started = Stopwatch.GetTimestamp();
    // Callers enqueue concurrently, as sign-outs arrive from many requests at once.
    await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = callers }, async (i, ct) =>
        await server.RevokeAsync(new Revocation { Subject = $"user-{i}", SessionId = $"s-{i}", ClientIds = [$"client{i % Receivers}"] }, ct));
    while (receivers.Sum(r => r.Accepted) - before < count)
    {
        await Task.Delay(1);
    }

    var elapsed = Stopwatch.GetElapsedTime(started);
    return count / elapsed.TotalSeconds;
}

async Task<(double P50, double P99, double Max)> MeasureLatencyAsync(Action<DbContextOptionsBuilder>? use)
{
    await using var engine = await StartEngineAsync(use);
    return await SampleLatencyAsync(engine.Services.GetRequiredService<IAutoSignOutServer>());
}

async Task<(double P50, double P99, double Max)> SampleLatencyAsync(IAutoSignOutServer server)
{
    var samples = new List<double>(latencySamples);
    for (var i = 0; i < latencySamples + 20; i++)
    {
        var arrived = receivers[0].ExpectOne();
        var start = Stopwatch.GetTimestamp();
        await server.RevokeAsync(new Revocation { Subject = $"lat-{i}", SessionId = $"lat-s-{i}", ClientIds = ["client0"] });
        var end = await arrived;
        if (i >= 20)
        {
            samples.Add(Stopwatch.GetElapsedTime(start, end).TotalMilliseconds);
        }

        // An idle system between samples: the next sign-out finds the engine waiting.
        await Task.Delay(5);
    }

    samples.Sort();
    return (Percentile(samples, 0.50), Percentile(samples, 0.99), samples[^1]);
}

// What a user's logout waits for: RevokeAsync from call to return (outbox write, token minting, hand-over), with
// deliveries of the earlier calls running beside it.
async Task<(double P50, double P99, double Max)> MeasureRevocationCallAsync(Action<DbContextOptionsBuilder> use)
{
    await using var engine = await StartEngineAsync(use);
    var server = engine.Services.GetRequiredService<IAutoSignOutServer>();
    var clients = Enumerable.Range(0, Receivers).Select(i => $"client{i}").ToArray();
    var before = receivers.Sum(r => r.Accepted);
    await CallsAsync(400, "warm", null);
    var samples = new ConcurrentBag<double>();
    await CallsAsync(revocationCalls, "call", samples);
    while (receivers.Sum(r => r.Accepted) - before < (400 + revocationCalls) * Receivers)
    {
        await Task.Delay(10);
    }

    var sorted = samples.Order().ToList();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"revocation call: p50 {Percentile(sorted, 0.5):F2} ms, p99 {Percentile(sorted, 0.99):F2} ms"));
    return (Percentile(sorted, 0.50), Percentile(sorted, 0.99), sorted[^1]);

    Task CallsAsync(int count, string prefix, ConcurrentBag<double>? record)
        => Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = RevocationCallers }, async (i, ct) =>
        {
            var start = Stopwatch.GetTimestamp();
            await server.RevokeAsync(new Revocation { Subject = $"{prefix}-u-{i}", SessionId = $"{prefix}-s-{i}", ClientIds = clients }, ct);
            record?.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        });
}

// A client whose endpoint refuses connections, with a backlog of pending rows (its circuit opens, its rows back off
// and come round again), beside healthy clients served by the same engine.
async Task<((double P50, double P99, double Max) Before, (double P50, double P99, double Max) After, long Pending)> MeasureDeadClientAsync(Action<DbContextOptionsBuilder> use)
{
    var dead = new Uri($"http://127.0.0.1:{FreePort()}/bcl");
    await using var engine = await StartEngineAsync(use, o => o.Clients.Add(new LogoutRecipient("dead", dead)));
    var server = engine.Services.GetRequiredService<IAutoSignOutServer>();
    var before = await SampleLatencyAsync(server);
    await Parallel.ForAsync(0, deadBacklog, new ParallelOptions { MaxDegreeOfParallelism = callers }, async (i, ct) =>
        await server.RevokeAsync(new Revocation { Subject = $"dead-{i}", SessionId = $"dead-s-{i}", ClientIds = ["dead"] }, ct));
    var after = await SampleLatencyAsync(server);
    var outbox = engine.Services.GetRequiredService<ILogoutOutbox>();
    var pending = (await outbox.GetSnapshotAsync(DateTimeOffset.UtcNow, CancellationToken.None)).PendingCount;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"dead client: healthy p99 {before.P99:F2} ms before, {after.P99:F2} ms beside {pending} pending rows"));
    return (before, after, pending);
}

// A client that fails two of every three attempts: each session's token is refused with a 500 twice, then accepted.
async Task<(double Seconds, int Requests)> MeasureLimpingDrainAsync(Action<DbContextOptionsBuilder> use)
{
    var tries = new ConcurrentDictionary<string, int>();
    await using var limping = await Receiver.StartAsync(sid => tries.AddOrUpdate(sid ?? "", 1, (_, n) => n + 1) <= 2 ? 500 : 200);
    await using var engine = await StartEngineAsync(use, o => o.Clients.Add(new LogoutRecipient("limping", limping.Endpoint)));
    var server = engine.Services.GetRequiredService<IAutoSignOutServer>();
    var started = Stopwatch.GetTimestamp();
    await Parallel.ForAsync(0, limpingBacklog, new ParallelOptions { MaxDegreeOfParallelism = callers }, async (i, ct) =>
        await server.RevokeAsync(new Revocation { Subject = $"limp-{i}", SessionId = $"limp-s-{i}", ClientIds = ["limping"] }, ct));
    var deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * 600);
    while (limping.Accepted < limpingBacklog && Stopwatch.GetTimestamp() < deadline)
    {
        await Task.Delay(10);
    }

    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"limping client: {limping.Accepted} of {limpingBacklog} delivered in {seconds:F1} s, {limping.Requests} requests"));
    return (seconds, limping.Requests);
}

static int FreePort()
{
    using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
    listener.Start();
    return ((IPEndPoint)listener.LocalEndpoint).Port;
}

async Task<Engine> StartEngineAsync(Action<DbContextOptionsBuilder>? use, Action<AutoSignOutServerOptions>? configure = null)
{
    var builder = Host.CreateApplicationBuilder();
    builder.Logging.ClearProviders();
    builder.Services.AddAutoSignOutServer(o =>
    {
        o.Issuer = "https://idp.bench";
        o.SigningCredentials = signing;
        for (var i = 0; i < receivers.Count; i++)
        {
            o.Clients.Add(new LogoutRecipient($"client{i}", receivers[i].Endpoint));
        }

        configure?.Invoke(o);
    });
    if (use is not null)
    {
        builder.Services.AddAutoSignOutEntityFrameworkOutbox(use);
    }

    var host = builder.Build();
    if (use is not null)
    {
        await host.Services.MigrateAutoSignOutOutboxAsync();
    }

    await host.StartAsync();
    return new Engine(host);
}

IEnumerable<(string Name, Action<DbContextOptionsBuilder>? Use, Func<Task> Cleanup)> Databases()
{
    // Reference point: the engine and HTTP alone, with nothing durable.
    yield return ("in-memory", null, () => Task.CompletedTask);

    var path = Path.Combine(Path.GetTempPath(), $"serverbench-{Guid.NewGuid():N}.db");
    var sqlite = $"Data Source={path}";
    yield return ("SQLite (synchronous=FULL)", o => o.UseSqlite(sqlite), () => Task.CompletedTask);
    yield return ("SQLite (WAL, synchronous=NORMAL: the default registration)", o => o.UseSqlite(sqlite).AddInterceptors(new SqliteSynchronousNormalInterceptor()), DeleteSqlite);

    var server = Environment.GetEnvironmentVariable("AUTOSIGNOUT_TEST_POSTGRES");
    if (string.IsNullOrEmpty(server))
    {
        Console.WriteLine("PostgreSQL skipped: AUTOSIGNOUT_TEST_POSTGRES is not set (eval \"$(bash eng/postgres.sh start)\").");
        yield break;
    }

    var database = $"bench_{Guid.NewGuid():N}";
    using (var admin = new NpgsqlConnection(server))
    {
        admin.Open();
        using var create = new NpgsqlCommand($"CREATE DATABASE {database}", admin);
        create.ExecuteNonQuery();
    }

    var pg = new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = 100 }.ToString();
    yield return ("PostgreSQL", o => o.UseNpgsql(pg), DropPostgres);

    Task DeleteSqlite()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(file);
        }

        return Task.CompletedTask;
    }

    async Task DropPostgres()
    {
        NpgsqlConnection.ClearAllPools();
        await using var admin = new NpgsqlConnection(server);
        await admin.OpenAsync();
        await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {database} WITH (FORCE)", admin);
        await drop.ExecuteNonQueryAsync();
    }
}

static double MeasureSigning(RSA rsa, int threads)
{
    var data = new byte[300];
    Random.Shared.NextBytes(data);
    var duration = TimeSpan.FromSeconds(1.5);
    long total = 0;
    var started = Stopwatch.GetTimestamp();
    var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
    {
        long mine = 0;
        while (Stopwatch.GetElapsedTime(started) < duration)
        {
            rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            mine++;
        }

        Interlocked.Add(ref total, mine);
    })).ToList();
    workers.ForEach(t => t.Start());
    workers.ForEach(t => t.Join());
    return total / Stopwatch.GetElapsedTime(started).TotalSeconds;
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToList();
    return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
}

static double Percentile(List<double> sorted, double p) => sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

string? ArgString(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int ArgInt(string name, int fallback)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>
/// A back-channel endpoint on loopback Kestrel: reads the form and answers 200, or what the answer function says for
/// the token's session.
/// </summary>
internal sealed class Receiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _accepted;
    private int _requests;
    private TaskCompletionSource<long>? _expect;

    private Receiver(WebApplication app) => _app = app;

    public Uri Endpoint => new($"{_app.Urls.First()}/bcl");

    public int Accepted => Volatile.Read(ref _accepted);

    public int Requests => Volatile.Read(ref _requests);

    public static async Task<Receiver> StartAsync(Func<string?, int>? answer = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        Receiver? self = null;
        app.MapPost("/bcl", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            Interlocked.Increment(ref self!._requests);
            if (form["logout_token"].Count != 1)
            {
                return Results.BadRequest();
            }

            if (answer is not null && answer(new JsonWebToken(form["logout_token"].ToString()).GetClaim("sid")?.Value) is var status and not 200)
            {
                return Results.StatusCode(status);
            }

            Interlocked.Increment(ref self._accepted);
            Interlocked.Exchange(ref self._expect, null)?.TrySetResult(Stopwatch.GetTimestamp());
            return Results.Ok();
        });
        await app.StartAsync();
        self = new Receiver(app);
        return self;
    }

    public Task<long> ExpectOne()
    {
        var tcs = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _expect, tcs);
        return tcs.Task;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>An engine host that stops (gracefully) when disposed.</summary>
internal sealed class Engine(IHost host) : IAsyncDisposable
{
    public IServiceProvider Services => host.Services;

    public async ValueTask DisposeAsync()
    {
        await host.StopAsync();
        host.Dispose();
    }
}
