using System.Net;
using System.Net.Sockets;
using System.Security.Claims;
using AutoSignOut.IdentityServer.OpenIddict;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityServer.OpenIddict.Tests.Infrastructure;

/// <summary>The IdP's context: OpenIddict's entities and the binding's tables in one SQLite database.</summary>
internal sealed class IdpContext(DbContextOptions<IdpContext> options) : DbContext(options)
{
    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.UseAutoSignOut();
    }
}

/// <summary>
/// A small OpenIddict IdP for the binding's tests, on Kestrel at 127.0.0.1: cookie sign-in by user name at
/// <c>/login</c> (a test stand-in for a password form), code flow with PKCE, refresh tokens, end-session, revocation,
/// EF Core on a SQLite file, and the binding with its EF Core storage. The real IdP is hosts/IdentityProvider.
/// </summary>
internal sealed class TestIdentityProvider : IAsyncDisposable
{
    public const string ClientId = "client-app";
    public const string OtherClientId = "other-app";

    private readonly WebApplication _app;
    private readonly string _databasePath;

    private TestIdentityProvider(WebApplication app, string address, string databasePath)
    {
        _app = app;
        Address = address;
        _databasePath = databasePath;
    }

    /// <summary>The IdP's base address without a trailing slash.</summary>
    public string Address { get; }

    /// <summary>The issuer, as OpenIddict writes it (with a trailing slash).</summary>
    public string Issuer => Address + "/";

    public IServiceProvider Services => _app.Services;

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static async Task<TestIdentityProvider> StartAsync(string clientAppAddress, Action<AutoSignOutOpenIddictOptions>? configure = null, string? otherClientBackChannel = null)
    {
        var address = $"http://127.0.0.1:{FreePort()}";
        var databasePath = Path.Combine(Path.GetTempPath(), $"autosignout-idp-{Guid.NewGuid():N}.db");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Development" });
        builder.WebHost.UseUrls(address);
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Trace).AddConsole().AddFilter(static (category, level) => level >= LogLevel.Warning || (Environment.GetEnvironmentVariable("AUTOSIGNOUT_TEST_DEBUG") == "1" && category?.StartsWith("AutoSignOut", StringComparison.Ordinal) == true));
        builder.Services.AddDbContextFactory<IdpContext>(o => o.UseSqlite($"Data Source={databasePath}").UseOpenIddict());
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme).AddCookie(o => o.LoginPath = "/login");
        builder.Services.AddAutoSignOutServer(o =>
        {
            o.InitialRetryDelay = TimeSpan.FromMilliseconds(500);
            o.PollInterval = TimeSpan.FromMilliseconds(500);
        });
        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<IdpContext>())
            .AddServer(o =>
            {
                o.SetIssuer(new Uri(address + "/"));
                o.SetAuthorizationEndpointUris("connect/authorize")
                    .SetTokenEndpointUris("connect/token")
                    .SetEndSessionEndpointUris("connect/logout")
                    .SetRevocationEndpointUris("connect/revocation");
                o.AllowAuthorizationCodeFlow().AllowRefreshTokenFlow().RequireProofKeyForCodeExchange();
                o.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.OfflineAccess);
                o.AddEphemeralEncryptionKey().AddEphemeralSigningKey();
                o.DisableAccessTokenEncryption();
                o.UseAspNetCore().EnableAuthorizationEndpointPassthrough().EnableEndSessionEndpointPassthrough().DisableTransportSecurityRequirement();
                o.AddAutoSignOut(configure).UseEntityFrameworkCore<IdpContext>();
            });

        var app = builder.Build();
        app.UseAuthentication();

        // Test stand-in for a sign-in form: whoever asks is signed in.
        app.MapGet("/login", async (HttpContext http, string user, string returnUrl) =>
        {
            var identity = new ClaimsIdentity([new Claim("sub", user), new Claim("name", user)], CookieAuthenticationDefaults.AuthenticationScheme);
            await http.SignInAsync(new ClaimsPrincipal(identity));
            return Results.LocalRedirect(returnUrl);
        });
        // What ASP.NET Core Identity's RefreshSignInAsync and security stamp validation do: a rebuilt principal signed
        // in again with the cookie's existing authentication properties.
        app.MapPost("/reissue-cookie", async (HttpContext http) =>
        {
            var result = await http.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            if (!result.Succeeded)
            {
                return Results.Unauthorized();
            }

            var subject = result.Principal!.FindFirst("sub")!.Value;
            var rebuilt = new ClaimsIdentity([new Claim("sub", subject), new Claim("name", subject), new Claim("stamp", Guid.NewGuid().ToString())], CookieAuthenticationDefaults.AuthenticationScheme);
            await http.SignInAsync(new ClaimsPrincipal(rebuilt), result.Properties);
            return Results.Ok();
        });
        app.MapMethods("/connect/authorize", ["GET", "POST"], async (HttpContext http) =>
        {
            var result = await http.AuthenticateAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            if (!result.Succeeded)
            {
                var user = http.Request.Query["login_hint"].ToString();
                return Results.Redirect($"/login?user={Uri.EscapeDataString(user)}&returnUrl={Uri.EscapeDataString(http.Request.Path + http.Request.QueryString)}");
            }

            var request = http.GetOpenIddictServerRequest()!;
            var subject = result.Principal!.FindFirst("sub")!.Value;
            var identity = new ClaimsIdentity(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme, Claims.Name, Claims.Role);
            identity.SetClaim(Claims.Subject, subject).SetClaim(Claims.Name, subject);
            identity.SetScopes(request.GetScopes());
            identity.SetResources(ClientId);
            identity.SetDestinations(static claim => [Destinations.AccessToken, Destinations.IdentityToken]);
            return Results.SignIn(new ClaimsPrincipal(identity), properties: null, OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
        });
        app.MapMethods("/connect/logout", ["GET", "POST"], async (HttpContext http) =>
        {
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.SignOut(new AuthenticationProperties { RedirectUri = "/" }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        });
        app.MapGet("/", () => "IdP");

        await using (var scope = app.Services.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<IdpContext>();
            await db.Database.EnsureCreatedAsync();
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;");
            var applications = scope.ServiceProvider.GetRequiredService<IOpenIddictApplicationManager>();
            await applications.CreateAsync(Client(ClientId, clientAppAddress).SetBackChannelLogout(new Uri(clientAppAddress + "/signout-backchannel")));
            var other = Client(OtherClientId, "http://127.0.0.1:1");
            if (otherClientBackChannel is not null)
            {
                other.SetBackChannelLogout(new Uri(otherClientBackChannel));
            }

            await applications.CreateAsync(other);
        }

        await app.StartAsync();
        return new TestIdentityProvider(app, address, databasePath);
    }

    private static OpenIddictApplicationDescriptor Client(string clientId, string address)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = clientId,
            ClientType = ClientTypes.Public,
            RedirectUris = { new Uri(address + "/signin-oidc") },
            PostLogoutRedirectUris = { new Uri(address + "/signout-callback-oidc") },
            Permissions =
            {
                Permissions.Endpoints.Authorization, Permissions.Endpoints.Token, Permissions.Endpoints.EndSession, Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.AuthorizationCode, Permissions.GrantTypes.RefreshToken, Permissions.ResponseTypes.Code,
                Permissions.Prefixes.Scope + Scopes.Profile, Permissions.Prefixes.Scope + "offline_access",
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        return descriptor;
    }

    /// <summary>Runs <paramref name="work"/> in a new DI scope of the IdP, as admin code would.</summary>
    public async Task<T> InScopeAsync<T>(Func<IServiceProvider, Task<T>> work)
    {
        await using var scope = _app.Services.CreateAsyncScope();
        return await work(scope.ServiceProvider);
    }

    public async Task<int> OutboxCountAsync() => await InScopeAsync(async s => await s.GetRequiredService<IdpContext>().Set<AutoSignOut.IdentityServer.EntityFrameworkCore.LogoutOutboxEntry>().CountAsync());

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
