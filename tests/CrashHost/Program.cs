// CrashHost: the AutoSignOut engine in a process of its own, on a SQLite outbox, for the crash tests.
//
//   dotnet AutoSignOut.CrashHost.dll --db FILE --instance NAME --client ID=URI [--client ID=URI ...]
//
// Prints "ready" once the dispatcher runs; then reads lines "revoke SESSION CLIENT" from standard input, stores the
// sign-out (RevokeAsync) and prints "stored SESSION". Retry and lease times are short, so that a test sees recovery
// within seconds; the lease (30 s) still outlives the longest dispatch plus the safety margin.
using System.Globalization;
using System.Security.Cryptography;
using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

string? database = null, instance = null;
var clients = new List<LogoutRecipient>();
var lease = TimeSpan.FromSeconds(30);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--db":
            database = args[i + 1];
            break;
        case "--instance":
            instance = args[i + 1];
            break;
        case "--client":
            var (id, uri) = (args[i + 1][..args[i + 1].IndexOf('=', StringComparison.Ordinal)], args[i + 1][(args[i + 1].IndexOf('=', StringComparison.Ordinal) + 1)..]);
            clients.Add(new LogoutRecipient(id, new Uri(uri)));
            break;
        case "--lease-seconds":
            lease = TimeSpan.FromSeconds(int.Parse(args[i + 1], CultureInfo.InvariantCulture));
            break;
        default:
            throw new ArgumentException($"Unknown option {args[i]}.");
    }
}

if (database is null || instance is null || clients.Count == 0)
{
    Console.Error.WriteLine("usage: --db FILE --instance NAME --client ID=URI [--client ID=URI ...] [--lease-seconds N]");
    return 2;
}

// The receivers do not check signatures: a key of this run is enough.
using var rsa = RSA.Create(2048);
var builder = Host.CreateApplicationBuilder();
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning);
builder.Logging.AddFilter("Microsoft", LogLevel.Error);
// Logs go to standard error: standard output carries the protocol.
builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Services.AddAutoSignOutServer(o =>
{
    o.Issuer = "https://idp.crash-host";
    o.SigningCredentials = new SigningCredentials(new RsaSecurityKey(rsa) { KeyId = "crash-host" }, SecurityAlgorithms.RsaSha256);
    o.InstanceName = instance;
    foreach (var client in clients)
    {
        o.Clients.Add(client);
    }

    o.AttemptTimeout = TimeSpan.FromSeconds(5);
    o.ImmediateRetries = 1;
    o.ImmediateRetryDelay = TimeSpan.FromMilliseconds(200);
    o.InitialRetryDelay = TimeSpan.FromSeconds(1);
    o.MaxRetryDelay = TimeSpan.FromSeconds(2);
    o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(2);
    o.PollInterval = TimeSpan.FromSeconds(1);
    o.LeaseDuration = lease;
    o.LeaseSafetyMargin = TimeSpan.FromSeconds(2);
});
var connectionString = $"Data Source={database}";
builder.Services.AddAutoSignOutEntityFrameworkOutbox(o => o.UseSqlite(connectionString).AddInterceptors(new SqliteSynchronousNormalInterceptor()));
using var host = builder.Build();
await host.Services.MigrateAutoSignOutOutboxAsync();
await host.StartAsync();
var server = host.Services.GetRequiredService<IAutoSignOutServer>();
Console.WriteLine("ready");

while (await Console.In.ReadLineAsync() is { } line)
{
    var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (parts is ["revoke", var session, var client])
    {
        await server.RevokeAsync(new Revocation { Subject = $"user-{session}", SessionId = session, ClientIds = [client] });
        Console.WriteLine($"stored {session}");
    }
}

// Standard input closed: a graceful stop (the tests kill the process instead).
await host.StopAsync();
return 0;
