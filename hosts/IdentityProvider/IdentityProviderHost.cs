using AutoSignOut.IdentityProvider.Components;
using AutoSignOut.IdentityProvider.Data;
using AutoSignOut.IdentityProvider.Endpoints;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityProvider;

/// <summary>
/// Builds the identity provider: OpenIddict's server on EF Core SQLite, ASP.NET Core Identity and its cookie, and
/// AutoSignOut's OpenIddict binding, which turns every sign-out and revocation here into back-channel logout
/// tokens. <c>Program</c> runs it; the demo and the tests start it in-process on a loopback port.
/// </summary>
public static class IdentityProviderHost
{
    /// <summary>The authorization endpoint.</summary>
    public const string AuthorizationPath = "/connect/authorize";

    /// <summary>The token endpoint.</summary>
    public const string TokenPath = "/connect/token";

    /// <summary>The end-session (logout) endpoint.</summary>
    public const string EndSessionPath = "/connect/endsession";

    /// <summary>The revocation endpoint.</summary>
    public const string RevocationPath = "/connect/revocation";

    /// <summary>The userinfo endpoint.</summary>
    public const string UserInfoPath = "/connect/userinfo";

    /// <summary>The sign-in page.</summary>
    public const string SignInPath = "/account/sign-in";

    /// <summary>Creates the app from standard configuration (appsettings, environment variables, command line).</summary>
    /// <param name="args">Command-line arguments, such as <c>--urls=http://127.0.0.1:5001</c> or <c>--IdentityProvider:ClientApp:BaseUrl=…</c>.</param>
    /// <param name="configure">Optional last word on the builder (the demo and tests use it).</param>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(IdentityProviderHost).Assembly.GetName().Name,
            ContentRootPath = Path.Combine(AppContext.BaseDirectory, "IdentityProvider"),
        });

        var settings = IdentityProviderSettings.From(builder.Configuration);
        builder.Services.AddSingleton(settings);
        builder.Services.AddSingleton(TimeProvider.System);

        builder.Services.AddRazorComponents();
        builder.Services.AddCascadingAuthenticationState();

        // A factory (the outbox and jti index use short-lived contexts) that also registers the scoped context.
        builder.Services.AddDbContextFactory<IdpDbContext>(o =>
        {
            o.UseSqlite(settings.ConnectionString);
            o.UseOpenIddict();
        });

        builder.Services.AddDemoIdentity<IdpDbContext>("AutoSignOut.IdentityProvider", settings.SessionLifetime);

        builder.Services.AddOpenIddict()
            .AddCore(o => o.UseEntityFrameworkCore().UseDbContext<IdpDbContext>())
            .AddServer(o =>
            {
                o.SetIssuer(settings.Issuer);
                o.SetAuthorizationEndpointUris(AuthorizationPath[1..])
                    .SetTokenEndpointUris(TokenPath[1..])
                    .SetEndSessionEndpointUris(EndSessionPath[1..])
                    .SetRevocationEndpointUris(RevocationPath[1..])
                    .SetUserInfoEndpointUris(UserInfoPath[1..]);
                o.AllowAuthorizationCodeFlow().AllowRefreshTokenFlow().RequireProofKeyForCodeExchange();
                o.RegisterScopes(Scopes.OpenId, Scopes.Profile, Scopes.Email, Scopes.Roles, Scopes.OfflineAccess);
                o.SetAccessTokenLifetime(settings.AccessTokenLifetime).SetRefreshTokenLifetime(settings.RefreshTokenLifetime);

                var keys = Path.GetFullPath(settings.KeysPath);
                o.AddSigningKey(SigningKeys.LoadOrCreate(keys, "signing"))
                    .AddEncryptionKey(SigningKeys.LoadOrCreate(keys, "encryption"));

                // Client apps validate access tokens themselves (JwtBearer): signed, not encrypted.
                o.DisableAccessTokenEncryption();

                // Always on, except to measure what the binding costs (IdentityProvider:AutoSignOut:Enabled, bench/IdpBench).
                if (settings.AutoSignOutEnabled)
                {
                    // AutoSignOut: a sid per IdP session, back-channel logout for every sign-out and revocation, the
                    // notifications written in the same EF Core transaction as the revocation.
                    o.AddAutoSignOut(a =>
                        {
                            a.SessionIdleTimeout = settings.SessionIdleTimeout;
                            a.SessionLifetime = settings.SessionLifetime;
                            a.SessionExpirationScanInterval = settings.SessionExpirationScanInterval;

                            // The IdP session is ASP.NET Core Identity's cookie, and only it ("Cookies" is not registered here).
                            a.CookieSchemes.Clear();
                            a.CookieSchemes.Add(IdentityConstants.ApplicationScheme);
                        })
                        .UseEntityFrameworkCore<IdpDbContext>();
                }

                var aspNetCore = o.UseAspNetCore()
                    .EnableAuthorizationEndpointPassthrough()
                    .EnableEndSessionEndpointPassthrough()
                    .EnableUserInfoEndpointPassthrough()
                    .EnableStatusCodePagesIntegration();
                if (settings.AllowHttp)
                {
                    aspNetCore.DisableTransportSecurityRequirement();
                }
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminEndpoints.Policy, policy => policy.RequireRole(IdentityProviderSeeder.AdminRole));

        configure?.Invoke(builder);

        var app = builder.Build();
        if (!app.Environment.IsDevelopment())
        {
            app.UseExceptionHandler("/error", createScopeForErrors: true);
        }

        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets();
        app.MapRazorComponents<App>();
        app.MapOpenIdConnectEndpoints();
        app.MapAccountEndpoints();
        app.MapAdminEndpoints();
        return app;
    }

    /// <summary>Creates the schema and the demo data (<see cref="IdentityProviderSeeder.SeedAsync"/>); call before <c>Run</c>.</summary>
    /// <param name="app">The app from <see cref="Create"/>.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static Task SeedAsync(this WebApplication app, CancellationToken cancellationToken = default) =>
        IdentityProviderSeeder.SeedAsync(app.Services, cancellationToken);
}
