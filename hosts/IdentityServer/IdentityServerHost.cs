using AutoSignOut.IdentityProvider;
using AutoSignOut.IdentityProvider.Data;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServerHost.Components;
using AutoSignOut.IdentityServerHost.Data;
using AutoSignOut.IdentityServerHost.Endpoints;
using Duende.IdentityServer;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServerHost;

/// <summary>
/// Builds the Duende IdentityServer twin of hosts/IdentityProvider: IdentityServer 7 with ASP.NET Core Identity's
/// users, server-side sessions and the EF operational store on SQLite, and AutoSignOut's Duende binding with its outbox
/// and jti index in the same database, so every sign-out and revocation here reaches the client apps' live
/// connections. Same settings, users, client and ports as the OpenIddict IdP. <c>Program</c> runs it; the bench and
/// tests start it in-process on a loopback port.
/// </summary>
public static class IdentityServerHost
{
    /// <summary>The sign-in page (Duende's <c>UserInteraction.LoginUrl</c>).</summary>
    public const string SignInPath = "/account/sign-in";

    /// <summary>The logout page Duende's end-session endpoint sends the browser to (<c>UserInteraction.LogoutUrl</c>).</summary>
    public const string LogoutPath = "/account/logout";

    /// <summary>The API scope whose access tokens the client app's hub accepts as bearer tokens (audience: the client id).</summary>
    public const string HubScope = "chat";

    /// <summary>Creates the app from standard configuration (appsettings, environment variables, command line).</summary>
    /// <param name="args">Command-line arguments, such as <c>--urls=http://127.0.0.1:5001</c> or <c>--IdentityProvider:ClientApp:BaseUrl=…</c>.</param>
    /// <param name="configure">Optional last word on the builder (the bench and tests use it).</param>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(IdentityServerHost).Assembly.GetName().Name,
            ContentRootPath = Path.Combine(AppContext.BaseDirectory, "IdentityServer"),
        });

        // The OpenIddict IdP's settings, keys and all: the two demo IdPs are configured alike.
        var settings = IdentityProviderSettings.From(builder.Configuration);
        builder.Services.AddSingleton(settings);

        builder.Services.AddRazorComponents();
        builder.Services.AddCascadingAuthenticationState();

        builder.Services.AddDbContext<UsersDbContext>(o => o.UseSqlite(settings.ConnectionString));

        // Duende keeps the session server-side and slides it with the cookie: idle this long, it expires, and the binding
        // tells its clients (session_ended).
        builder.Services.AddDemoIdentity<UsersDbContext>("AutoSignOut.IdentityServer", settings.SessionIdleTimeout);

        var identityServer = builder.Services.AddIdentityServer(o =>
            {
                o.IssuerUri = settings.Issuer.AbsoluteUri.TrimEnd('/');
                o.UserInteraction.LoginUrl = SignInPath;
                o.UserInteraction.LogoutUrl = LogoutPath;
                o.UserInteraction.ErrorUrl = "/error";

                // The demo runs on plain http, where browsers drop a SameSite=None cookie (it needs Secure): Duende's
                // default for its session cookies. Lax still sends them on the top-level redirects of the code flow.
                o.Authentication.CookieSameSiteMode = SameSiteMode.Lax;
                o.Authentication.CheckSessionCookieSameSiteMode = SameSiteMode.Lax;

                // Automatic key management needs a Duende license; the demo signs with a key kept on disk instead.
                o.KeyManagement.Enabled = false;
                o.ServerSideSessions.RemoveExpiredSessionsFrequency = settings.SessionExpirationScanInterval;
                o.ServerSideSessions.ExpiredSessionsTriggerBackchannelLogout = true;
            })
            .AddSigningCredential(SigningKeys.LoadOrCreate(Path.GetFullPath(settings.KeysPath), "signing"), SecurityAlgorithms.RsaSha256)
            .AddInMemoryIdentityResources(DemoClients.IdentityResources)
            .AddInMemoryApiScopes(DemoClients.ApiScopes)
            .AddInMemoryApiResources(DemoClients.ApiResources(settings.ClientApp))
            .AddInMemoryClients([DemoClients.ClientApp(settings)])
            .AddAspNetIdentity<IdentityUser>()
            .AddServerSideSessions()
            .AddOperationalStore(o => o.ConfigureDbContext = db => db.UseSqlite(settings.ConnectionString));

        // Always on, except to measure what the binding costs (IdentityProvider:AutoSignOut:Enabled, bench/DuendeBench):
        // off, this is plain Duende with its own back-channel logout.
        if (settings.AutoSignOutEnabled)
        {
            builder.Services.AddAutoSignOutServer();

            // The outbox and jti index in the operational store's database (WAL, synchronous=NORMAL for their writes).
            builder.Services.AddAutoSignOutEntityFrameworkOutbox(o => o.UseSqlite(settings.ConnectionString).AddInterceptors(new SqliteSynchronousNormalInterceptor()));
            builder.Services.AddAutoSignOutEntityFrameworkTokenIndex();

            // Where Duende deletes grants or sessions through EF, the notifications commit in the same transaction.
            identityServer.AddAutoSignOut().AddAutoSignOutOperationalStoreTransaction();
        }

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminEndpoints.Policy, policy => policy.RequireRole(DemoUserSeeder.AdminRole));

        configure?.Invoke(builder);

        var app = builder.Build();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseIdentityServer();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets();
        app.MapGet("/app.css", () => Results.Stream(typeof(IdentityServerHost).Assembly.GetManifestResourceStream("app.css")!, "text/css"));
        app.MapRazorComponents<App>();
        app.MapAccountEndpoints();
        app.MapAdminEndpoints();
        return app;
    }

    /// <summary>Creates the tables and the demo users (<see cref="IdentityServerSeeder.SeedAsync"/>); call before <c>Run</c>.</summary>
    /// <param name="app">The app from <see cref="Create"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static Task SeedAsync(this WebApplication app, CancellationToken cancellationToken = default) =>
        IdentityServerSeeder.SeedAsync(app.Services, cancellationToken);
}
