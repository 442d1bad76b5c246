// IdpBench: issue 7's figures, in one run, with the real hosts in this process on loopback ports.
// (a) A revocation at the IdP (IAutoSignOutSessionService.EndSessionAsync: outbox row on SQLite, logout token, HTTP
//     POST, validation at the client) -> the client's hub connection closed, beside the client's in-app API
//     (IAutoSignOutService.SignOutSessionAsync: no IdP, outbox or HTTP) -> closed: the floor. Interleaved.
// (b) The IdP's logout response time (GET /connect/endsession with id_token_hint, the request a client app sends the
//     browser to) with and without the binding: two IdPs from the same host code, interleaved.
//
//   dotnet run -c Release --project bench/IdpBench [-- --revocations 200 --logouts 200 --warm-up 20 --wal]
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using AutoSignOut.AspNetCore;
using AutoSignOut.ClientApp;
using AutoSignOut.IdentityProvider;
using AutoSignOut.IdentityProvider.Data;
using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;
using IdpBench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static IdpBench.BenchMeasures;

var revocations = ArgInt("--revocations", 200);
var logouts = ArgInt("--logouts", 200);
var warmUp = ArgInt("--warm-up", 20);
var wal = args.Contains("--wal");
const string ClientId = "client-app";
const string User = "alice";
const string Password = "alice-password-1";

var dataPath = Path.Combine(Path.GetTempPath(), "autosignout-idpbench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(dataPath);
var clientUrl = FreeLoopbackUrl();
var withUrl = FreeLoopbackUrl();
var withoutUrl = FreeLoopbackUrl();
var signals = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);

Console.WriteLine($"IdpBench on {Environment.ProcessorCount} cores, .NET {Environment.Version}; {revocations} revocations and {logouts} logouts per side after {warmUp} warm-ups; the IdPs' SQLite databases {(wal ? "in WAL mode" : "as the host creates them (rollback journal, synchronous=FULL)")}.");
var withBinding = await StartIdpAsync(withUrl, "with", binding: true);
var withoutBinding = await StartIdpAsync(withoutUrl, "without", binding: false);
var client = ClientAppHost.Create(
    [
        "--environment=Development", $"--urls={clientUrl}", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:AutoSignOut=Warning",
        $"--Oidc:Authority={withUrl}/", $"--Oidc:Issuer={withUrl}/", $"--Oidc:ClientId={ClientId}", "--Oidc:RequireHttpsMetadata=false",
        "--ClientApp:LocalSignIn=false",
    ],
    builder =>
    {
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.PostConfigure<AutoSignOutOptions>(o =>
        {
            var next = o.Events.OnSignal;
            o.Events.OnSignal = context =>
            {
                if (context.Signal.SessionId is { } sid)
                {
                    signals.TryAdd(sid, Stopwatch.GetTimestamp());
                }

                return next(context);
            };
        });
    });
await client.StartAsync();
var clientUri = new Uri(clientUrl);
var hub = new Uri(clientUri, "/hubs/chat");
var redirectUri = new Uri(clientUri, "/signin-oidc");
var postLogoutUri = new Uri(clientUri, "/signout-callback-oidc");

try
{
    // (a) revocation -> closed, beside the in-app floor.
    var idpClosed = new List<double>();
    var idpDelivered = new List<double>();
    var idpCallReturned = new List<double>();
    var floorClosed = new List<double>();
    var floorCallReturned = new List<double>();
    var inApp = client.Services.GetRequiredService<IAutoSignOutService>();
    var issuer = new Uri(withUrl + "/").AbsoluteUri;
    for (var i = 0; i < warmUp + revocations; i++)
    {
        var counted = i >= warmUp;

        // Alternate which side goes first, so that neither always follows the other's background work.
        foreach (var viaIdp in i % 2 == 0 ? new[] { true, false } : [false, true])
        {
            var tokens = await NewSessionAsync(withUrl, User, Password);
            var sid = tokens.SessionId ?? throw new InvalidOperationException("The access token carries no sid.");
            await using var connection = await ConnectAsync(hub, tokens.AccessToken);
            var closed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Closed += _ =>
            {
                closed.TrySetResult(Stopwatch.GetTimestamp());
                return Task.CompletedTask;
            };

            var t0 = Stopwatch.GetTimestamp();
            if (viaIdp)
            {
                await using var scope = withBinding.Services.CreateAsyncScope();
                if (!await scope.ServiceProvider.GetRequiredService<IAutoSignOutSessionService>().EndSessionAsync(sid, RevocationReasons.AdminRevoked))
                {
                    throw new InvalidOperationException($"The IdP did not know session {sid}.");
                }
            }
            else
            {
                await inApp.SignOutSessionAsync(sid, RevocationReasons.AdminRevoked, issuer);
            }

            var returned = Stopwatch.GetTimestamp();
            var at = await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
            if (counted)
            {
                (viaIdp ? idpCallReturned : floorCallReturned).Add(Ms(t0, returned));
                (viaIdp ? idpClosed : floorClosed).Add(Ms(t0, at));
                if (viaIdp)
                {
                    // OnSignal runs once the client has sent the closes, so it may follow the close by a moment.
                    var seen = await WaitForAsync(() => signals.ContainsKey(sid), TimeSpan.FromSeconds(1));
                    idpDelivered.Add(seen ? Ms(t0, signals[sid]) : double.NaN);
                }
            }
        }

        Progress("revocations", i + 1, warmUp + revocations);
    }

    // (b) logout response time with and without the binding.
    var logoutWith = new List<double>();
    var logoutWithout = new List<double>();
    for (var i = 0; i < warmUp + logouts; i++)
    {
        foreach (var binding in i % 2 == 0 ? new[] { true, false } : [false, true])
        {
            var idp = new Uri(binding ? withUrl : withoutUrl);
            using var agent = new BenchUserAgent();
            await agent.SignInAsync(idp, User, Password);
            var tokens = await agent.GetTokensAsync(idp, ClientId, redirectUri);
            var t0 = Stopwatch.GetTimestamp();
            using var response = await agent.EndSessionAsync(idp, tokens.IdentityToken, postLogoutUri);
            var t1 = Stopwatch.GetTimestamp();
            if (response.StatusCode != HttpStatusCode.Redirect || response.Headers.Location?.AbsolutePath != postLogoutUri.AbsolutePath)
            {
                throw new InvalidOperationException($"End-session ({(binding ? "with" : "without")} the binding) answered {(int)response.StatusCode} {response.Headers.Location}.");
            }

            if (i >= warmUp)
            {
                (binding ? logoutWith : logoutWithout).Add(Ms(t0, t1));
            }
        }

        Progress("logouts", i + 1, warmUp + logouts);
    }

    Console.WriteLine();
    Console.WriteLine();
    Console.WriteLine($"(a) {revocations} revocations each, interleaved, ms (p50 / p99 / max)");
    Console.WriteLine();
    Console.WriteLine("| measurement | p50 | p99 | max |");
    Console.WriteLine("|---|---:|---:|---:|");
    Row("IdP: `EndSessionAsync` returned (committed with its outbox row)", idpCallReturned);
    Row("IdP: logout token accepted and the closes sent at the client (`OnSignal`)", idpDelivered);
    Row("**IdP revocation -> hub connection closed at the client**", idpClosed);
    Row("floor: in-app `SignOutSessionAsync` returned", floorCallReturned);
    Row("**floor: in-app API -> hub connection closed**", floorClosed);
    Console.WriteLine();
    var overP50 = Percentile(idpClosed, 50) - Percentile(floorClosed, 50);
    var overP99 = Percentile(idpClosed, 99) - Percentile(floorClosed, 99);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"IdP over the floor: +{overP50:F2} ms at p50, +{overP99:F2} ms at p99 (goal: p99 within floor + 15 ms: {(overP99 <= 15 ? "met" : "NOT met")})."));
    Console.WriteLine();
    Console.WriteLine($"(b) {logouts} logouts each (GET /connect/endsession with id_token_hint -> 302), interleaved, ms");
    Console.WriteLine();
    Console.WriteLine("| IdP | p50 | p99 | max | mean |");
    Console.WriteLine("|---|---:|---:|---:|---:|");
    Row("with the binding", logoutWith, mean: true);
    Row("without the binding", logoutWithout, mean: true);
    Console.WriteLine();
    foreach (var (name, app, count) in new[] { ("with", withBinding, logoutWith.Count), ("without", withoutBinding, logoutWithout.Count) })
    {
        var (commands, writes, time, commits, commitTime) = app.Services.GetRequiredService<SqlCounter>().Snapshot();
        var all = count + warmUp;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"SQL per end-session {name} the binding: {(double)commands / all:F1} commands, {(double)writes / all:F1} of them writes, {time.TotalMilliseconds / all:F2} ms running them; {(double)commits / all:F1} commits, {commitTime.TotalMilliseconds / all:F2} ms committing (means of {all})."));
    }

    Console.WriteLine();
    // The binding signs the logout token (RS256, 2048-bit) inside the end-session request, before the commit.
    using var rsa = System.Security.Cryptography.RSA.Create(2048);
    var data = new byte[600];
    var signs = new List<double>();
    for (var i = 0; i < 220; i++)
    {
        var t0 = Stopwatch.GetTimestamp();
        rsa.SignData(data, System.Security.Cryptography.HashAlgorithmName.SHA256, System.Security.Cryptography.RSASignaturePadding.Pkcs1);
        if (i >= 20)
        {
            signs.Add(Ms(t0, Stopwatch.GetTimestamp()));
        }
    }

    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"One raw RS256 signature (2048-bit), this run: {Percentile(signs, 50):F2} ms at p50, {Percentile(signs, 99):F2} ms at p99."));
    Console.WriteLine();
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"with / without: {Percentile(logoutWith, 50) / Percentile(logoutWithout, 50):F2}x at p50, {Percentile(logoutWith, 99) / Percentile(logoutWithout, 99):F2}x at p99, {logoutWith.Average() / logoutWithout.Average():F2}x in the mean (goal: within 1.2x)."));
}
finally
{
    await client.StopAsync();
    await client.DisposeAsync();
    foreach (var app in new[] { withBinding, withoutBinding })
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    SqliteConnection.ClearAllPools();
    try
    {
        Directory.Delete(dataPath, recursive: true);
    }
    catch (IOException)
    {
        // Left for the OS to clean.
    }
}

async Task<WebApplication> StartIdpAsync(string url, string name, bool binding)
{
    var database = Path.Combine(dataPath, name + ".db");
    if (wal)
    {
        // Write-ahead logging is a property of the database file: set before the host creates its schema, it stays.
        using var connection = new SqliteConnection($"Data Source={database}");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;";
        command.ExecuteNonQuery();
    }

    var app = IdentityProviderHost.Create(
        [
            "--environment=Development", $"--urls={url}", $"--IdentityProvider:Issuer={url}/", $"--IdentityProvider:ClientApp:BaseUrl={clientUrl}",
            $"--ConnectionStrings:IdentityProvider=Data Source={database}", $"--IdentityProvider:KeysPath={Path.Combine(dataPath, name + "-keys")}",
            $"--IdentityProvider:AutoSignOut:Enabled={binding}", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:AutoSignOut=Warning",
        ],
        builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);

            // Counts what the end-session request asks of SQLite (the host's own context, in every request's scope).
            builder.Services.AddHttpContextAccessor();
            builder.Services.AddSingleton(sp => new SqlCounter(sp.GetRequiredService<IHttpContextAccessor>(), "/connect/endsession"));
            builder.Services.ConfigureDbContext<IdpDbContext>((sp, o) => o.AddInterceptors(sp.GetRequiredService<SqlCounter>()));
        });
    await app.SeedAsync();
    await app.StartAsync();
    return app;
}

async Task<Tokens> NewSessionAsync(string idpUrl, string userName, string password)
{
    using var agent = new BenchUserAgent();
    var idp = new Uri(idpUrl);
    await agent.SignInAsync(idp, userName, password);
    return await agent.GetTokensAsync(idp, ClientId, redirectUri);
}

static async Task<bool> WaitForAsync(Func<bool> condition, TimeSpan bound)
{
    var started = Stopwatch.GetTimestamp();
    while (!condition())
    {
        if (Stopwatch.GetElapsedTime(started) > bound)
        {
            return false;
        }

        await Task.Delay(1);
    }

    return true;
}

static void Row(string name, List<double> values, bool mean = false)
{
    var valid = values.Where(v => !double.IsNaN(v)).ToList();
    var missing = values.Count - valid.Count;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name}{(missing > 0 ? $" ({missing} not seen)" : string.Empty)} | {Percentile(valid, 50):F2} | {Percentile(valid, 99):F2} | {valid.Max():F2} |{(mean ? $" {valid.Average():F2} |" : string.Empty)}"));
}

static void Progress(string what, int done, int total)
{
    if (done % 20 == 0 || done == total)
    {
        Console.Write($"\r{what}: {done}/{total}   ");
    }
}

int ArgInt(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
}
