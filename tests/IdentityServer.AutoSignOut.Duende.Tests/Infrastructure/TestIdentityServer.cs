using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Duende.IdentityServer;
using Duende.IdentityServer.EntityFramework.DbContexts;
using Duende.IdentityServer.Models;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;

/// <summary>
/// Duende IdentityServer for the binding's tests, on Kestrel at 127.0.0.1: sign-in by user name at <c>/login</c> (a
/// test stand-in for a password form), a logout page at <c>/logout</c>, code flow with PKCE, refresh tokens,
/// server-side sessions, Duende's EF operational store on a SQLite file, and (unless <c>withPlugin</c> is false, to
/// measure Duende's built-in back-channel logout) the binding with its outbox and jti index in the same database.
/// </summary>
internal sealed class TestIdentityServer : IAsyncDisposable
{
    public const string ClientId = "client-app";
    public const string InvalidClientId = "bad-uri-app";

    private readonly WebApplication _app;
    private readonly string _databasePath;

    private TestIdentityServer(WebApplication app, string address, string databasePath, FailingOutboxWrites outboxWrites)
    {
        _app = app;
        Address = address;
        _databasePath = databasePath;
        OutboxWrites = outboxWrites;
    }

    /// <summary>The IdP's base address, which is also its issuer.</summary>
    public string Address { get; }

    /// <summary>Turns this IdP's outbox inserts into failures (<see cref="FailingOutboxWrites.FailAll"/>).</summary>
    public FailingOutboxWrites OutboxWrites { get; }

    public IServiceProvider Services => _app.Services;

    public string ConnectionString => $"Data Source={_databasePath}";

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <param name="clientAppAddress">hosts/ClientApp's address, where the code flow redirects.</param>
    /// <param name="withPlugin">Whether the binding is added; without it, Duende's built-in back-channel logout runs.</param>
    /// <param name="extraClients">More clients beside client-app and the one with an invalid URI.</param>
    /// <param name="backChannelLogoutUri">client-app's back-channel logout URI; default: the client app's own endpoint.</param>
    /// <param name="database">The operational store's and the outbox's database; default: a new SQLite file.</param>
    /// <param name="keyManagement">Duende's automatic key management (keys in the EF store) instead of a static key.</param>
    /// <param name="sharedTransaction">Whether the notifications are written in the transaction of Duende's EF writes
    /// (<c>AddAutoSignOutOperationalStoreTransaction</c>); without it, they are stored after Duende's write.</param>
    public static async Task<TestIdentityServer> StartAsync(
        string clientAppAddress, bool withPlugin = true, IEnumerable<Client>? extraClients = null, string? backChannelLogoutUri = null,
        Action<DbContextOptionsBuilder>? database = null, bool keyManagement = false, bool sharedTransaction = true)
    {
        var address = $"http://127.0.0.1:{FreePort()}";
        var databasePath = Path.Combine(Path.GetTempPath(), $"autosignout-duende-{Guid.NewGuid():N}.db");
        var connectionString = $"Data Source={databasePath}";
        var useDatabase = database ?? (db => db.UseSqlite(connectionString));
        var outboxWrites = new FailingOutboxWrites();
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseUrls(address);
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddConsole().AddFilter(static (category, level) =>
            (level >= LogLevel.Warning && category?.StartsWith("Duende", StringComparison.Ordinal) != true) || level >= LogLevel.Error
            || (Environment.GetEnvironmentVariable("AUTOSIGNOUT_TEST_DEBUG") == "1" && category?.StartsWith("AutoSignOut", StringComparison.Ordinal) == true));

        var identityServer = builder.Services.AddIdentityServer(o =>
            {
                o.KeyManagement.Enabled = keyManagement;
                // No key cache: a key that a test replaces in the store is used at once.
                o.KeyManagement.KeyCacheDuration = TimeSpan.Zero;
                o.KeyManagement.InitializationKeyCacheDuration = TimeSpan.Zero;
                o.KeyManagement.InitializationSynchronizationDelay = TimeSpan.Zero;
                o.ServerSideSessions.RemoveExpiredSessionsFrequency = TimeSpan.FromSeconds(1);
                o.ServerSideSessions.ExpiredSessionsTriggerBackchannelLogout = true;
            })
            .AddInMemoryIdentityResources([new IdentityResources.OpenId(), new IdentityResources.Profile()])
            .AddInMemoryApiScopes([new ApiScope("chat")])
            .AddInMemoryApiResources([new ApiResource(ClientId) { Scopes = { "chat" } }])
            .AddInMemoryClients([Client(ClientId, clientAppAddress, backChannelLogoutUri ?? clientAppAddress + "/signout-backchannel"), Client(InvalidClientId, "http://127.0.0.1:1", "not an absolute uri"), .. extraClients ?? []])
            .AddServerSideSessions()
            .AddOperationalStore(o =>
            {
                o.ConfigureDbContext = useDatabase;
                o.EnableTokenCleanup = false;
            });
        if (!keyManagement)
        {
            identityServer.AddSigningCredential(new RsaSecurityKey(RSA.Create(2048)) { KeyId = "test-key" }, SecurityAlgorithms.RsaSha256);
        }

        if (withPlugin)
        {
            builder.Services.AddAutoSignOutServer(o =>
            {
                o.InitialRetryDelay = TimeSpan.FromMilliseconds(500);
                o.ImmediateRetryDelay = TimeSpan.FromMilliseconds(50);
                o.PollInterval = TimeSpan.FromMilliseconds(500);
                // A client that was down (side-by-side tests) is tried again within seconds of its recovery.
                o.CircuitBreakerBreakDuration = TimeSpan.FromSeconds(1);
                o.MaxRetryDelay = TimeSpan.FromSeconds(2);
            });
            // The outbox and the jti index in the operational store's database.
            builder.Services.AddAutoSignOutEntityFrameworkOutbox(o =>
            {
                useDatabase(o);
                o.AddInterceptors(outboxWrites);
            });
            builder.Services.AddAutoSignOutEntityFrameworkTokenIndex();
            identityServer.AddAutoSignOut(o => o.NotificationRetryWindow = TimeSpan.FromSeconds(30));
            if (sharedTransaction)
            {
                identityServer.AddAutoSignOutOperationalStoreTransaction();
            }
        }

        var app = builder.Build();
        app.UseIdentityServer();

        // Test stand-in for a sign-in form: whoever asks is signed in.
        app.MapGet("/login", async (HttpContext http, string user, string returnUrl) =>
        {
            await http.SignInAsync(new IdentityServerUser(user) { DisplayName = user });
            return Results.LocalRedirect(returnUrl);
        });
        // The logout page: what a Duende host's page does once the user confirms.
        app.MapGet("/logout", async (HttpContext http) =>
        {
            await http.SignOutAsync(IdentityServerConstants.DefaultCookieAuthenticationScheme);
            return Results.Text("signed out");
        });
        app.MapGet("/", () => "IdP");

        if (withPlugin)
        {
            await app.Services.MigrateAutoSignOutOutboxAsync();
        }

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<PersistedGrantDbContext>();
            // The database may exist already (the outbox's migration made it): create Duende's tables beside it.
            await db.GetService<IRelationalDatabaseCreator>().CreateTablesAsync();
        }

        await app.StartAsync();
        return new TestIdentityServer(app, address, databasePath, outboxWrites);
    }

    public static Client Client(string clientId, string address, string? backChannelLogoutUri) => new()
    {
        ClientId = clientId,
        RequireClientSecret = false,
        RequirePkce = true,
        AllowedGrantTypes = GrantTypes.Code,
        RedirectUris = { address + "/signin-oidc" },
        PostLogoutRedirectUris = { address + "/signout-callback-oidc" },
        AllowedScopes = { "openid", "profile", "chat" },
        AllowOfflineAccess = true,
        RefreshTokenUsage = TokenUsage.OneTimeOnly,
        BackChannelLogoutUri = backChannelLogoutUri,
        BackChannelLogoutSessionRequired = true,
        CoordinateLifetimeWithUserSession = true,
    };

    /// <summary>Runs <paramref name="work"/> in a new DI scope of the IdP, as admin code would.</summary>
    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> work)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        return await work(scope.ServiceProvider);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in (string[])["", "-wal", "-shm"])
        {
            File.Delete(_databasePath + suffix);
        }
    }
}
