// DuendeBench: issue 10's figures, in one run, with the real hosts in this process on loopback ports.
// Two Duende IdentityServer instances from hosts/IdentityServer, one with AutoSignOut's binding and one without (Duende's
// own back-channel logout), each with a hosts/ClientApp instance registered as its client-app, interleaved:
// (a) logout at the IdP (GET /connect/endsession with id_token_hint, then the logout page it redirects to, which signs
//     out) -> the client app's hub connection closed;
// (b) that logout's response time, and with a second, slow back-channel client in the same session.
//
//   dotnet run -c Release --project bench/DuendeBench [-- --logouts 200 --slow-logouts 20 --slow-ms 1000 --warm-up 20 --out FILE]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using AutoSignOut.ClientApp;
using AutoSignOut.IdentityProvider;
using AutoSignOut.IdentityServerHost;
using Duende.IdentityServer.Models;
using IdpBench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using static IdpBench.BenchMeasures;

var logouts = ArgInt("--logouts", 200);
var slowLogouts = ArgInt("--slow-logouts", 20);
var slowMs = ArgInt("--slow-ms", 1000);
var warmUp = ArgInt("--warm-up", 20);
var output = ArgString("--out");
const string ClientId = "client-app";
const string SlowClientId = "slow-app";
const string User = "alice";
const string Password = "alice-password-1";
const string Scopes = "openid profile offline_access chat";

var dataPath = Path.Combine(Path.GetTempPath(), "autosignout-duendebench-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(dataPath);
var slowUrl = FreeLoopbackUrl();
var slowPosts = 0;
var slow = WebApplication.CreateBuilder(["--environment=Production", $"--urls={slowUrl}"]);
slow.Logging.ClearProviders();
var slowApp = slow.Build();

// A relying party whose back-channel logout endpoint answers after --slow-ms.
slowApp.MapPost("/signout-backchannel", async () =>
{
    Interlocked.Increment(ref slowPosts);
    await Task.Delay(slowMs);
    return Results.Ok();
});
await slowApp.StartAsync();

var started = DateTime.UtcNow;
Console.WriteLine($"DuendeBench on {Environment.ProcessorCount} cores, .NET {Environment.Version}; {logouts} logouts per IdP after {warmUp} warm-ups, {slowLogouts} with a back-channel client answering in {slowMs} ms.");
var with = await StartStackAsync("with", plugin: true);
var without = await StartStackAsync("without", plugin: false);
try
{
    var closedWith = new List<double>();
    var closedWithout = new List<double>();
    var logoutWith = new List<double>();
    var logoutWithout = new List<double>();
    var pageWith = new List<double>();
    var pageWithout = new List<double>();
    for (var i = 0; i < warmUp + logouts; i++)
    {
        // Alternate which IdP goes first, so that neither always follows the other's background work.
        foreach (var stack in i % 2 == 0 ? new[] { with, without } : [without, with])
        {
            var (logout, page, closed) = await LogoutAsync(stack, withSlowClient: false);
            if (i >= warmUp)
            {
                (stack.Plugin ? logoutWith : logoutWithout).Add(logout);
                (stack.Plugin ? pageWith : pageWithout).Add(page);
                (stack.Plugin ? closedWith : closedWithout).Add(closed);
            }
        }

        Progress("logouts", i + 1, warmUp + logouts);
    }

    var slowLogoutWith = new List<double>();
    var slowLogoutWithout = new List<double>();
    var slowClosedWith = new List<double>();
    var slowClosedWithout = new List<double>();
    for (var i = 0; i < slowLogouts; i++)
    {
        foreach (var stack in i % 2 == 0 ? new[] { with, without } : [without, with])
        {
            var (logout, _, closed) = await LogoutAsync(stack, withSlowClient: true);
            (stack.Plugin ? slowLogoutWith : slowLogoutWithout).Add(logout);
            (stack.Plugin ? slowClosedWith : slowClosedWithout).Add(closed);
        }

        Progress("logouts with a slow client", i + 1, slowLogouts);
    }

    // The plugin delivers in the background: let its last slow POSTs land before counting them.
    await Task.Delay(slowMs + 500);
    Console.WriteLine();

    var report = new StringBuilder();
    report.AppendLine(CultureInfo.InvariantCulture, $"# Duende IdentityServer benchmark ({started:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores, .NET {Environment.Version})");
    report.AppendLine();
    report.AppendLine("One process, loopback ports: two hosts/IdentityServer instances (Duende IdentityServer 7.4.8, ASP.NET Core Identity,");
    report.AppendLine("server-side sessions, EF operational store on SQLite), one **with** AutoSignOut's binding (outbox and jti index in the");
    report.AppendLine("same SQLite file) and one **without** (Duende's built-in back-channel logout), each with a hosts/ClientApp instance as");
    report.AppendLine("its `client-app`. Each iteration signs a user in on the IdP's form, runs the code flow (PKCE) for an access token,");
    report.AppendLine("opens a bearer hub connection (WebSockets, one round trip), then logs out the way a client app sends the browser:");
    report.AppendLine("`GET /connect/endsession?id_token_hint=…` → 302 to the logout page → `GET /account/logout` (signs out) → 302 to the");
    report.AppendLine("client's post-logout URI. The two IdPs alternate; warm-ups are not counted. Milliseconds.");
    report.AppendLine();
    report.AppendLine("Command: `dotnet run -c Release --project bench/DuendeBench" + (args.Length == 0 ? "`" : $" -- {string.Join(' ', args)}`"));
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"## Logout at the IdP → the client's hub connection closed ({logouts} logouts each)");
    report.AppendLine();
    report.AppendLine("| measure | with the plugin | Duende built-in | ratio with / built-in |");
    report.AppendLine("|---|---:|---:|---:|");
    Compare(report, "logout start → hub connection closed, p50", closedWith, closedWithout, 50);
    Compare(report, "logout start → hub connection closed, p99", closedWith, closedWithout, 99);
    Compare(report, "logout response (end-session + logout page), p50", logoutWith, logoutWithout, 50);
    Compare(report, "logout response (end-session + logout page), p99", logoutWith, logoutWithout, 99);
    Compare(report, "logout page alone (`GET /account/logout`), p50", pageWith, pageWithout, 50);
    Compare(report, "logout page alone (`GET /account/logout`), p99", pageWith, pageWithout, 99);
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"## The same with a second back-channel client in the session that answers in {slowMs} ms ({slowLogouts} logouts each, no warm-up)");
    report.AppendLine();
    report.AppendLine("| measure | with the plugin | Duende built-in | ratio with / built-in |");
    report.AppendLine("|---|---:|---:|---:|");
    Compare(report, "logout response (end-session + logout page), p50", slowLogoutWith, slowLogoutWithout, 50);
    Compare(report, "logout response (end-session + logout page), max", slowLogoutWith, slowLogoutWithout, 100);
    Compare(report, "logout start → the fast client's hub connection closed, p50", slowClosedWith, slowClosedWithout, 50);
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"The slow client received {slowPosts} logout tokens for {2 * slowLogouts} logouts ({slowLogouts} with the plugin, {slowLogouts} built-in).");
    report.AppendLine();
    report.AppendLine(CultureInfo.InvariantCulture, $"Logout with the plugin beside a slow client / without one (both with the plugin): {Percentile(slowLogoutWith, 50) / Percentile(logoutWith, 50):F2}x at p50.");
    report.AppendLine(CultureInfo.InvariantCulture, $"Built-in Duende beside a slow client / without one: {Percentile(slowLogoutWithout, 50) / Percentile(logoutWithout, 50):F2}x at p50.");

    Console.WriteLine();
    Console.Write(report);
    if (output is not null)
    {
        await File.WriteAllTextAsync(output, report.ToString());
        Console.WriteLine($"Written to {output}.");
    }
}
finally
{
    foreach (var stack in new[] { with, without })
    {
        await stack.DisposeAsync();
    }

    await slowApp.StopAsync();
    await slowApp.DisposeAsync();
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

// One logout, timed: (end-session + logout page, logout page alone, logout start -> hub connection closed).
async Task<(double Logout, double Page, double Closed)> LogoutAsync(Stack stack, bool withSlowClient)
{
    using var agent = new BenchUserAgent();
    var idp = new Uri(stack.IdpUrl);
    var client = new Uri(stack.ClientUrl);
    await agent.SignInAsync(idp, User, Password);
    var tokens = await agent.GetTokensAsync(idp, ClientId, new Uri(client, "/signin-oidc"), Scopes);
    if (withSlowClient)
    {
        // The slow client joins the same IdP session, so the logout notifies it too.
        await agent.GetTokensAsync(idp, SlowClientId, new Uri(new Uri(slowUrl), "/signin-oidc"), "openid");
    }

    await using var connection = await ConnectAsync(new Uri(client, "/hubs/chat"), tokens.AccessToken);
    var closed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
    connection.Closed += _ =>
    {
        closed.TrySetResult(Stopwatch.GetTimestamp());
        return Task.CompletedTask;
    };

    var postLogout = new Uri(client, "/signout-callback-oidc");
    var t0 = Stopwatch.GetTimestamp();
    using var endSession = await agent.EndSessionAsync(idp, tokens.IdentityToken, postLogout);
    var logoutPage = endSession.Headers.Location is { } location && endSession.StatusCode == HttpStatusCode.Redirect
        ? new Uri(idp, location)
        : throw new InvalidOperationException($"End-session answered {(int)endSession.StatusCode} without a redirect.");
    var t1 = Stopwatch.GetTimestamp();
    using var page = await agent.GetAsync(logoutPage);
    var t2 = Stopwatch.GetTimestamp();
    if (page.StatusCode != HttpStatusCode.Redirect || page.Headers.Location?.AbsoluteUri != postLogout.AbsoluteUri)
    {
        throw new InvalidOperationException($"The logout page ({(stack.Plugin ? "with" : "without")} the plugin) answered {(int)page.StatusCode} {page.Headers.Location}.");
    }

    var at = await closed.Task.WaitAsync(TimeSpan.FromSeconds(15));
    return (Ms(t0, t2), Ms(t1, t2), Ms(t0, at));
}

async Task<Stack> StartStackAsync(string name, bool plugin)
{
    var idpUrl = FreeLoopbackUrl();
    var clientUrl = FreeLoopbackUrl();
    var idp = IdentityServerHost.Create(
        [
            "--environment=Development", $"--urls={idpUrl}", $"--IdentityProvider:Issuer={idpUrl}/", $"--IdentityProvider:ClientApp:BaseUrl={clientUrl}",
            $"--ConnectionStrings:IdentityProvider=Data Source={Path.Combine(dataPath, name + ".db")}", $"--IdentityProvider:KeysPath={Path.Combine(dataPath, name + "-keys")}",
            $"--IdentityProvider:AutoSignOut:Enabled={plugin}", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:Duende=Error", "--Logging:LogLevel:AutoSignOut=Warning",
            "--Logging:LogLevel:Microsoft.AspNetCore.Http.ResponseCookies=Error",
        ],
        builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);

            // The demo's client plus one whose back-channel endpoint is slow. Duende reads the in-memory clients as one
            // IEnumerable<Client> registration; this one, added last, is the one resolved.
            var settings = IdentityProviderSettings.From(builder.Configuration);
            var slowClient = DemoClients.ClientApp(settings);
            slowClient.ClientId = SlowClientId;
            slowClient.ClientName = "Slow back-channel client";
            slowClient.RedirectUris = [slowUrl + "/signin-oidc"];
            slowClient.PostLogoutRedirectUris = [slowUrl + "/signout-callback-oidc"];
            slowClient.BackChannelLogoutUri = slowUrl + "/signout-backchannel";
            builder.Services.AddSingleton<IEnumerable<Client>>([DemoClients.ClientApp(settings), slowClient]);
        });
    await idp.SeedAsync();
    await idp.StartAsync();
    var client = ClientAppHost.Create(
        [
            "--environment=Development", $"--urls={clientUrl}", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:AutoSignOut=Warning",
            $"--Oidc:Authority={idpUrl}", $"--Oidc:ClientId={ClientId}", "--Oidc:RequireHttpsMetadata=false", "--ClientApp:LocalSignIn=false",
        ],
        builder => builder.Logging.SetMinimumLevel(LogLevel.Warning));
    await client.StartAsync();
    return new Stack(plugin, idpUrl, clientUrl, idp, client);
}

static void Compare(StringBuilder report, string name, List<double> with, List<double> without, double p)
{
    var a = Percentile(with, p);
    var b = Percentile(without, p);
    report.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {a:F2} | {b:F2} | {a / b:F2}x |");
}

static void Progress(string what, int done, int total)
{
    if (done % 10 == 0 || done == total)
    {
        Console.Write($"\r{what}: {done}/{total}   ");
    }
}

int ArgInt(string name, int fallback) => ArgString(name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

string? ArgString(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

/// <summary>One IdP (with or without the plugin) and the client app registered at it.</summary>
internal sealed record Stack(bool Plugin, string IdpUrl, string ClientUrl, WebApplication Idp, WebApplication Client) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Client.StopAsync();
        await Client.DisposeAsync();
        await Idp.StopAsync();
        await Idp.DisposeAsync();
    }
}
