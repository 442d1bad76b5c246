using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using AutoSignOut.AspNetCore;
using AutoSignOut.ClientApp;
using AutoSignOut.IdentityProvider;
using Microsoft.AspNetCore.Builder;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.Browser.Tests;

/// <summary>
/// The real hosts/IdentityProvider (OpenIddict, ASP.NET Core Identity, SQLite in a temporary folder) and the real
/// hosts/ClientApp pointed at it, both in this process on free loopback ports, as the demo starts them. The client app
/// can be stopped and started again on the same port (the fault test).
/// </summary>
internal sealed class IdentityProviderStack : IAsyncDisposable
{
    private readonly string _dataPath;
    private readonly string[] _clientAppArgs;
    private WebApplication? _clientApp;

    private IdentityProviderStack(string dataPath, string idpAddress, string clientAddress, string[] clientAppArgs)
    {
        _dataPath = dataPath;
        IdpAddress = idpAddress;
        ClientAddress = clientAddress;
        _clientAppArgs = clientAppArgs;
    }

    public string IdpAddress { get; }

    public string ClientAddress { get; }

    public WebApplication IdentityProvider { get; private set; } = default!;

    public WebApplication ClientApp => _clientApp ?? throw new InvalidOperationException("The client app is stopped.");

    /// <summary>Every sign-out signal the client app processed (across restarts), with its <see cref="Stopwatch"/> timestamp.</summary>
    public ConcurrentQueue<(long At, SignOutSignal Signal)> Signals { get; } = new();

    /// <summary>The password of a seeded user: the IdP seeds alice, bob and admin the same way.</summary>
    public static string PasswordOf(string userName) => userName + "-password-1";

    /// <summary>Starts both apps; <paramref name="users"/> are seeded beside the IdP's own (alice, bob, admin).</summary>
    /// <param name="users">Extra users, each with the password <see cref="PasswordOf"/>.</param>
    /// <param name="configureIdentityProvider">The IdP host's configure callback (engine settings for the fault test).</param>
    public static async Task<IdentityProviderStack> StartAsync(IEnumerable<string> users, Action<WebApplicationBuilder>? configureIdentityProvider = null)
    {
        var dataPath = Path.Combine(Path.GetTempPath(), "autosignout-browser-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dataPath);
        var idp = FreeLoopbackUrl();
        var client = FreeLoopbackUrl();
        var logging = new[] { "--environment=Development", "--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:AutoSignOut=Warning" };

        // The IdP's appsettings.json seeds alice, bob and admin at indexes 0-2; the tests' users follow.
        var seeded = users.SelectMany((name, i) => new[]
        {
            $"--Seed:Users:{i + 3}:UserName={name}",
            $"--Seed:Users:{i + 3}:Email={name}@example.test",
            $"--Seed:Users:{i + 3}:Name={char.ToUpperInvariant(name[0])}{name[1..]}",
            $"--Seed:Users:{i + 3}:Password={PasswordOf(name)}",
        });
        string[] idpArgs =
        [
            .. logging,
            $"--urls={idp}",
            $"--IdentityProvider:Issuer={idp}/",
            $"--IdentityProvider:ClientApp:BaseUrl={client}",
            $"--ConnectionStrings:IdentityProvider=Data Source={Path.Combine(dataPath, "identity-provider.db")}",
            $"--IdentityProvider:KeysPath={Path.Combine(dataPath, "keys")}",
            .. seeded,
        ];
        string[] clientArgs =
        [
            .. logging,
            $"--urls={client}",
            $"--Oidc:Authority={idp}/",
            $"--Oidc:Issuer={idp}/",
            "--Oidc:ClientId=client-app",
            "--Oidc:RequireHttpsMetadata=false",
            "--Oidc:Scopes=openid profile email roles offline_access",
            "--ClientApp:LocalSignIn=false",
        ];

        var stack = new IdentityProviderStack(dataPath, idp, client, clientArgs);
        try
        {
            stack.IdentityProvider = IdentityProviderHost.Create(idpArgs, builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Warning);
                configureIdentityProvider?.Invoke(builder);
            });
            await stack.IdentityProvider.SeedAsync();
            await stack.IdentityProvider.StartAsync();
            await stack.StartClientAppAsync();
            await WarmUpAsync(idp, ["/", "/account/sign-in", "/account/signed-out", "/.well-known/openid-configuration", "/.well-known/jwks"]);
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }

        return stack;
    }

    /// <summary>Starts the client app (again), on the same port; its pages are requested once so none is timed cold.</summary>
    public async Task StartClientAppAsync()
    {
        if (_clientApp is not null)
        {
            throw new InvalidOperationException("The client app is running.");
        }

        var app = ClientAppHost.Create(_clientAppArgs, builder =>
        {
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Services.PostConfigure<AutoSignOutOptions>(o =>
            {
                var next = o.Events.OnSignal;
                o.Events.OnSignal = context =>
                {
                    Signals.Enqueue((Stopwatch.GetTimestamp(), context.Signal));
                    return next(context);
                };
            });
        });
        await app.StartAsync();
        _clientApp = app;
        await WarmUpAsync(ClientAddress, ["/signed-out?reason=warm_up", "/sign-in", "/"]);
    }

    /// <summary>Stops the client app; its port stays free for <see cref="StartClientAppAsync"/>.</summary>
    public async Task StopClientAppAsync()
    {
        if (_clientApp is { } app)
        {
            _clientApp = null;
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopClientAppAsync();
        if (IdentityProvider is not null)
        {
            await IdentityProvider.StopAsync();
            await IdentityProvider.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_dataPath, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open: the temporary folder is left for the OS to clean.
        }
    }

    private static async Task WarmUpAsync(string baseAddress, string[] paths)
    {
        using var http = new HttpClient { BaseAddress = new Uri(baseAddress), Timeout = TimeSpan.FromSeconds(30) };
        foreach (var path in paths)
        {
            (await http.GetAsync(path)).EnsureSuccessStatusCode();
        }
    }

    private static string FreeLoopbackUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }
}
