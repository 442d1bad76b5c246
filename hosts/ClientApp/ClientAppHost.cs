using System.Security.Claims;
using AutoSignOut.AspNetCore;
using AutoSignOut.ClientApp.Components;
using AutoSignOut.ClientApp.Services;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Mvc;

namespace AutoSignOut.ClientApp;

/// <summary>
/// Builds the client app: a Blazor Web App (interactive server) with a SignalR chat hub, local and OIDC sign-in, and
/// AutoSignOut. <c>Program</c> runs it; the browser tests start it in-process on a loopback port.
/// </summary>
public static class ClientAppHost
{
    /// <summary>The OIDC scheme, registered only when <c>Oidc:Authority</c> is set.</summary>
    public const string OidcScheme = OpenIdConnectDefaults.AuthenticationScheme;

    /// <summary>The claim issuer of local sign-ins, and AutoSignOut's <c>LocalIssuer</c>.</summary>
    public const string LocalIssuer = "urn:autosignout:client-app";

    /// <summary>The policy of the admin page: the <c>admin</c> role.</summary>
    public const string AdminPolicy = "admin";

    /// <summary>Creates the app from standard configuration (appsettings, environment variables, command line).</summary>
    /// <param name="args">Command-line arguments, such as <c>--urls=http://127.0.0.1:0</c> or <c>--Oidc:Authority=…</c>.</param>
    /// <param name="configure">Optional last word on the builder (tests use it).</param>
    public static WebApplication Create(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ApplicationName = typeof(ClientAppHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });

        // Serve wwwroot and the framework's files from the build output in every environment, not only Development
        // (the content root is the build output, which has no wwwroot of its own until the app is published).
        builder.WebHost.UseStaticWebAssets();
        var settings = ClientAppSettings.From(builder.Configuration);
        builder.Services.AddSingleton(settings);

        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<SessionDirectory>();
        builder.Services.AddSingleton<ChatLog>();
        builder.Services.AddSingleton<LivePageActivity>();

        builder.Services.AddAutoSignOut(o =>
        {
            // Every signal, from the OP's back-channel or from this app, shows on the admin page.
            o.Events.OnSignal = context =>
            {
                var signal = context.Signal;
                context.Services.GetRequiredService<SessionDirectory>().MarkRevoked(signal.Issuer, signal.Subject, signal.SessionId, signal.Reason ?? "revoked");
                return Task.CompletedTask;
            };

            // Local sign-ins are this app's own sessions: its "alice" is not the identity provider's "alice".
            o.LocalIssuer = LocalIssuer;

            if (settings.OidcEnabled)
            {
                o.Providers.Add(new OpenIdProvider
                {
                    Authority = settings.Authority,
                    Issuer = settings.Issuer,
                    ClientIds = { settings.ClientId },
                    RequireHttpsMetadata = settings.RequireHttpsMetadata,
                });
            }
        }).AddBlazorCircuits(o => o.SignedOutPath = settings.SignedOutPath);

        var authentication = builder.Services.AddAuthentication(o =>
        {
            o.DefaultScheme = CookieAuthenticationDefaults.AuthenticationScheme;
            o.DefaultChallengeScheme = CookieAuthenticationDefaults.AuthenticationScheme;
        });
        authentication.AddCookie(o =>
        {
            o.LoginPath = "/sign-in";
            o.LogoutPath = "/account/sign-out";
            o.Cookie.Name = "AutoSignOut.ClientApp";
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.Events.OnSigningIn = context =>
            {
                context.HttpContext.RequestServices.GetRequiredService<SessionDirectory>().Record(context.Principal!);
                return Task.CompletedTask;
            };
        });
        authentication.AddJwtBearer(o =>
        {
            o.Authority = settings.OidcEnabled ? settings.Authority : null;
            o.Audience = settings.ApiAudience;
            o.RequireHttpsMetadata = settings.RequireHttpsMetadata;
            o.MapInboundClaims = false;
            o.Events = new JwtBearerEvents
            {
                // Browsers cannot set headers on WebSockets: SignalR sends the token in the query for its hub.
                OnMessageReceived = context =>
                {
                    if (context.Request.Path.StartsWithSegments(settings.ChatHubPath) && context.Request.Query["access_token"] is { Count: 1 } token)
                    {
                        context.Token = token;
                    }

                    return Task.CompletedTask;
                },
            };
        });
        if (settings.OidcEnabled)
        {
            authentication.AddOpenIdConnect(OidcScheme, o =>
            {
                o.Authority = settings.Authority;
                o.ClientId = settings.ClientId;
                o.ClientSecret = string.IsNullOrEmpty(settings.ClientSecret) ? null : settings.ClientSecret;
                o.ResponseType = "code";
                o.UsePkce = true;
                o.RequireHttpsMetadata = settings.RequireHttpsMetadata;
                o.CallbackPath = settings.CallbackPath;
                o.SignedOutCallbackPath = settings.SignedOutCallbackPath;
                o.SaveTokens = true;
                o.GetClaimsFromUserInfoEndpoint = true;
                o.MapInboundClaims = false;
                o.TokenValidationParameters.NameClaimType = "name";
                o.TokenValidationParameters.RoleClaimType = "role";
                o.Scope.Clear();
                foreach (var scope in settings.Scopes)
                {
                    o.Scope.Add(scope);
                }
            });
        }

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(AdminPolicy, policy => policy.RequireRole("admin"))
            .AddPolicy(ChatHub.Policy, policy => policy
                .AddAuthenticationSchemes(CookieAuthenticationDefaults.AuthenticationScheme, JwtBearerDefaults.AuthenticationScheme)
                .RequireAuthenticatedUser());

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
        app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
        app.MapHub<ChatHub>(settings.ChatHubPath);
        app.MapBackChannelLogout(settings.BackChannelLogoutPath);
        MapAccountEndpoints(app, settings);
        return app;
    }

    private static void MapAccountEndpoints(WebApplication app, ClientAppSettings settings)
    {
        var account = app.MapGroup("/account");

        // Demonstration sign-in: a user name, no password. Off when ClientApp:LocalSignIn is false.
        account.MapPost("/sign-in", async (HttpContext http, [FromForm] string userName, [FromForm] string? returnUrl) =>
        {
            if (!settings.LocalSignIn)
            {
                return Results.NotFound();
            }

            userName = userName?.Trim() ?? string.Empty;
            if (userName.Length is 0 or > 64)
            {
                return Results.Redirect("/sign-in?error=name");
            }

            // There is no password: the admin role goes only to the names ClientApp:LocalAdmins lists (none by default).
            List<Claim> claims = [new("sub", userName, ClaimValueTypes.String, LocalIssuer), new("name", userName, ClaimValueTypes.String, LocalIssuer), new("amr", "local", ClaimValueTypes.String, LocalIssuer)];
            if (settings.LocalAdmins.Contains(userName, StringComparer.Ordinal))
            {
                claims.Add(new Claim("role", "admin", ClaimValueTypes.String, LocalIssuer));
            }

            var identity = new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme, "name", "role");
            await http.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, new ClaimsPrincipal(identity));
            return Results.LocalRedirect(IsLocal(returnUrl) ? returnUrl! : "/live");
        });

        // Production path: sign in at the configured OpenID Provider.
        account.MapGet("/sign-in-oidc", (string? returnUrl) => settings.OidcEnabled
            ? Results.Challenge(new AuthenticationProperties { RedirectUri = IsLocal(returnUrl) ? returnUrl : "/live" }, [OidcScheme])
            : Results.NotFound());

        account.MapPost("/sign-out", async (HttpContext http) =>
        {
            var isOidc = http.User.FindFirst("amr")?.Value != "local" && settings.OidcEnabled;
            await http.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return isOidc
                ? Results.SignOut(new AuthenticationProperties { RedirectUri = "/signed-out?reason=signed_out" }, [OidcScheme])
                : Results.LocalRedirect("/signed-out?reason=signed_out");
        }).RequireAuthorization();
    }

    private static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
