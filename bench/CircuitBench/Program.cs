using System.Diagnostics;
using System.Globalization;
using AutoSignOut.AspNetCore;
using AutoSignOut.CircuitBench;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

// Issue 4's performance figures, measured in one run on this machine (see README.md):
//  1. revocation -> circuit's auth state anonymous / navigation received by the client / connection closed, with
//     200 live circuits, beside revocation -> signedOut received / closed for 200 plain hub connections;
//  2. the same revocations met by RevalidatingServerAuthenticationStateProvider polling every 5 s (Duende BFF's
//     default): time to signed out, and session-store queries per minute each approach costs at rest.
var circuits = Arg("--circuits", 200);
var warmUp = Arg("--warm-up", 20);
var interval = TimeSpan.FromSeconds(Arg("--revalidation-seconds", 5));
var steadySeconds = Arg("--steady-seconds", 12);

await using var host = await BenchHost.StartAsync();
var signOut = host.Services.GetRequiredService<IAutoSignOutService>();
var store = host.Services.GetRequiredService<CountingRevokedSessionStore>();
var registry = host.Services.GetRequiredService<LiveConnectionRegistry>();
Console.WriteLine($"CircuitBench: {circuits} circuits + {circuits} hub connections (+{warmUp} of each to warm up), {Environment.ProcessorCount} cores, .NET {Environment.Version}");

var circuitClients = new List<Client>();
var hubClients = new List<Client>();
for (var i = 0; i < circuits + warmUp; i++)
{
    circuitClients.Add(await Client.ConnectAsync($"{host.Address}/circuit?cuser=c{i}&csid=cs{i}", "navigate", $"cs{i}"));
    hubClients.Add(await Client.ConnectAsync($"{host.Address}/plain?user=h{i}&sid=hs{i}", "signedOut", $"hs{i}"));
}

await WaitUntilAsync(() => registry.Count == 2 * (circuits + warmUp));
Console.WriteLine($"live connections registered: {registry.Count}");

// At rest: what each approach asks of the session store.
var lookupsBefore = store.Lookups;
await Task.Delay(TimeSpan.FromSeconds(steadySeconds));
var autoSignOutQueriesPerMinute = (store.Lookups - lookupsBefore) * 60.0 / steadySeconds;

var circuitAnonymous = new List<double>();
var circuitNavigated = new List<double>();
var circuitClosed = new List<double>();
var hubSignedOut = new List<double>();
var hubClosed = new List<double>();
var lookupsBeforeRevocations = store.Lookups;
for (var i = 0; i < circuits + warmUp; i++)
{
    var measured = i >= warmUp;
    var circuit = circuitClients[i];
    var started = Stopwatch.GetTimestamp();
    await signOut.SignOutSessionAsync(circuit.SessionId, "bench");
    await circuit.WhenMessage.WaitAsync(TimeSpan.FromSeconds(10));
    await circuit.WhenClosed.WaitAsync(TimeSpan.FromSeconds(10));
    if (measured)
    {
        circuitAnonymous.Add(Milliseconds(started, BenchHost.AnonymousAt[circuit.SessionId]));
        circuitNavigated.Add(Milliseconds(started, circuit.MessageAt));
        circuitClosed.Add(Milliseconds(started, circuit.ClosedAt));
    }

    var hub = hubClients[i];
    started = Stopwatch.GetTimestamp();
    await signOut.SignOutSessionAsync(hub.SessionId, "bench");
    await hub.WhenMessage.WaitAsync(TimeSpan.FromSeconds(10));
    await hub.WhenClosed.WaitAsync(TimeSpan.FromSeconds(10));
    if (measured)
    {
        hubSignedOut.Add(Milliseconds(started, hub.MessageAt));
        hubClosed.Add(Milliseconds(started, hub.ClosedAt));
    }
}

var lookupsPerRevocation = (store.Lookups - lookupsBeforeRevocations) / (2.0 * (circuits + warmUp));
var revalidation = await RevalidationBench.RunAsync(host.Services, circuits, interval, TimeSpan.FromSeconds(steadySeconds));

Console.WriteLine();
Console.WriteLine($"## Revocation -> signed out, {circuits} live circuits beside {circuits} live hub connections (ms; one revocation at a time)");
Console.WriteLine();
Console.WriteLine("| measurement | p50 | p99 | max |");
Console.WriteLine("|---|---:|---:|---:|");
Row("circuit: auth state anonymous (server)", circuitAnonymous);
Row("circuit: navigation received by the client", circuitNavigated);
Row("circuit: connection closed at the client", circuitClosed);
Row("hub: `signedOut` received by the client", hubSignedOut);
Row("hub: connection closed at the client", hubClosed);
Console.WriteLine();
Console.WriteLine($"ratio circuit navigation / hub signedOut, p50: {Percentile(circuitNavigated, 50) / Percentile(hubSignedOut, 50):0.00}x, p99: {Percentile(circuitNavigated, 99) / Percentile(hubSignedOut, 99):0.00}x");
Console.WriteLine();
Console.WriteLine($"## Beside RevalidatingServerAuthenticationStateProvider every {interval.TotalSeconds:0} s ({circuits} circuits)");
Console.WriteLine();
Console.WriteLine("| approach | time to signed out p50 | p99 | max | session-store queries / minute at rest |");
Console.WriteLine("|---|---:|---:|---:|---:|");
Console.WriteLine($"| AutoSignOut (signal) | {Percentile(circuitAnonymous, 50):0.00} ms | {Percentile(circuitAnonymous, 99):0.00} ms | {circuitAnonymous.Max():0.00} ms | {autoSignOutQueriesPerMinute:0} |");
Console.WriteLine($"| revalidation every {interval.TotalSeconds:0} s | {Percentile(revalidation.TimeToSignedOut, 50):0} ms | {Percentile(revalidation.TimeToSignedOut, 99):0} ms | {revalidation.TimeToSignedOut.Max():0} ms | {revalidation.QueriesPerMinute:0} |");
Console.WriteLine();
Console.WriteLine($"AutoSignOut store lookups per revocation (in memory, no I/O): {lookupsPerRevocation:0.0}; at rest they are made only per inbound circuit event or hub invocation, never on a timer.");

foreach (var client in circuitClients.Concat(hubClients))
{
    await client.DisposeAsync();
}

return;

int Arg(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}

static double Milliseconds(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;

static double Percentile(List<double> values, double percentile)
{
    var sorted = values.Order().ToArray();
    var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
    return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
}

static void Row(string name, List<double> values) =>
    Console.WriteLine($"| {name} | {Percentile(values, 50):0.00} | {Percentile(values, 99):0.00} | {values.Max():0.00} |");

static async Task WaitUntilAsync(Func<bool> condition)
{
    var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
    while (!condition())
    {
        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException("The connections did not all register.");
        }

        await Task.Delay(20);
    }
}

/// <summary>A WebSocket SignalR client that records when the sign-out message and the close arrive.</summary>
internal sealed class Client : IAsyncDisposable
{
    private readonly HubConnection _connection;
    private readonly TaskCompletionSource _message = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private Client(HubConnection connection, string sessionId)
    {
        _connection = connection;
        SessionId = sessionId;
    }

    public string SessionId { get; }

    public long MessageAt { get; private set; }

    public long ClosedAt { get; private set; }

    public Task WhenMessage => _message.Task;

    public Task WhenClosed => _closed.Task;

    public static async Task<Client> ConnectAsync(string url, string method, string sessionId)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(url, o =>
            {
                o.Transports = HttpTransportType.WebSockets;
                o.SkipNegotiation = true;
            })
            .Build();
        var client = new Client(connection, sessionId);
        if (method == "navigate")
        {
            connection.On<string?, string?>(method, (_, _) => client.Received());
        }
        else
        {
            connection.On<string?>(method, _ => client.Received());
        }
        connection.Closed += _ =>
        {
            client.ClosedAt = Stopwatch.GetTimestamp();
            client._closed.TrySetResult();
            return Task.CompletedTask;
        };
        await connection.StartAsync();
        return client;
    }

    private void Received()
    {
        if (MessageAt == 0)
        {
            MessageAt = Stopwatch.GetTimestamp();
        }

        _message.TrySetResult();
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
