using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Hooks the IdP's session cookie schemes (<see cref="AutoSignOutOpenIddictOptions.CookieSchemes"/>): a sign-in starts
/// a session and keeps its <c>sid</c> in the cookie's authentication properties, which ASP.NET Core Identity carries
/// over when it re-issues the cookie (security stamp validation, <c>RefreshSignInAsync</c>, sliding renewal); every
/// request refuses the cookie of an ended or expired session; a sign-out ends the session and notifies its clients.
/// The app's own cookie events still run first.
/// </summary>
internal sealed class SessionCookieEvents : IPostConfigureOptions<CookieAuthenticationOptions>
{
    private static readonly object RefusingMarker = new();

    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;

    public SessionCookieEvents(IOptionsMonitor<AutoSignOutOpenIddictOptions> options) => _options = options;

    public void PostConfigure(string? name, CookieAuthenticationOptions options)
    {
        if (name is null || !_options.CurrentValue.CookieSchemes.Contains(name))
        {
            return;
        }

        var events = options.Events ??= new CookieAuthenticationEvents();
        var signingIn = events.OnSigningIn;
        var validate = events.OnValidatePrincipal;
        var signingOut = events.OnSigningOut;
        events.OnSigningIn = async context =>
        {
            await signingIn(context).ConfigureAwait(false);
            await OnSigningInAsync(context).ConfigureAwait(false);
        };
        events.OnValidatePrincipal = async context =>
        {
            await validate(context).ConfigureAwait(false);
            await OnValidatePrincipalAsync(context).ConfigureAwait(false);
        };
        events.OnSigningOut = async context =>
        {
            await OnSigningOutAsync(context).ConfigureAwait(false);
            await signingOut(context).ConfigureAwait(false);
        };
    }

    internal static string? SessionIdOf(AuthenticationProperties? properties) =>
        properties?.Items.TryGetValue(AutoSignOutOpenIddictDefaults.SessionIdProperty, out var sid) == true && !string.IsNullOrEmpty(sid) ? sid : null;

    /// <summary>The session ids in the request's cookies of the registered session schemes (authenticated even if already signed out in this request).</summary>
    internal static async Task<IReadOnlyList<string>> FindCookieSessionsAsync(HttpContext http, IEnumerable<string> schemes)
    {
        var provider = http.RequestServices.GetRequiredService<IAuthenticationSchemeProvider>();
        var found = new List<string>();
        foreach (var scheme in schemes)
        {
            if (await provider.GetSchemeAsync(scheme).ConfigureAwait(false) is null)
            {
                continue;
            }

            var result = await http.AuthenticateAsync(scheme).ConfigureAwait(false);
            if (SessionIdOf(result.Properties) is { } sessionId)
            {
                found.Add(sessionId);
            }
        }

        return found;
    }

    private static async Task OnSigningInAsync(CookieSigningInContext context)
    {
        var services = context.HttpContext.RequestServices;
        if (SessionIdOf(context.Properties) is not { } sessionId)
        {
            if (SessionLifecycle.SubjectOf(context.Principal) is not { } subject)
            {
                return;
            }

            sessionId = await services.GetRequiredService<SessionLifecycle>()
                .StartAsync(services.GetRequiredService<IAutoSignOutSessionStore>(), subject, context.HttpContext.RequestAborted).ConfigureAwait(false);
            context.Properties.Items[AutoSignOutOpenIddictDefaults.SessionIdProperty] = sessionId;
        }

        AddClaim(context.Principal, sessionId);
    }

    private static async Task OnValidatePrincipalAsync(CookieValidatePrincipalContext context)
    {
        if (context.Principal is null || context.HttpContext.Items.ContainsKey(RefusingMarker))
        {
            return;
        }

        var services = context.HttpContext.RequestServices;
        var store = services.GetRequiredService<IAutoSignOutSessionStore>();
        var lifecycle = services.GetRequiredService<SessionLifecycle>();
        var cancellationToken = context.HttpContext.RequestAborted;
        if (SessionIdOf(context.Properties) is not { } sessionId)
        {
            // A cookie issued before the binding was installed: it starts its session now.
            if (SessionLifecycle.SubjectOf(context.Principal) is { } subject)
            {
                sessionId = await lifecycle.StartAsync(store, subject, cancellationToken).ConfigureAwait(false);
                context.Properties.Items[AutoSignOutOpenIddictDefaults.SessionIdProperty] = sessionId;
                context.ShouldRenew = true;
                AddClaim(context.Principal, sessionId);
            }

            return;
        }

        var session = await store.FindAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (session is { IsActive: true } && lifecycle.IsExpired(session, lifecycle.Time.GetUtcNow()))
        {
            await services.GetRequiredService<IAutoSignOutSessionService>().EndSessionAsync(sessionId, RevocationReasons.SessionEnded, cancellationToken).ConfigureAwait(false);
            session = null;
        }

        // Fail closed: an unknown session (ended and purged, or from another IdP's store) is as ended as an ended one.
        if (session is not { IsActive: true })
        {
            services.GetRequiredService<ILogger<SessionCookieEvents>>().EndedSessionCookieRefused();
            context.RejectPrincipal();
            // The sign-out re-enters this handler (OnSigningOut authenticates the cookie to find its session): the marker
            // stops it from ending the session again and from recursing into this validation.
            context.HttpContext.Items[RefusingMarker] = true;
            await context.HttpContext.SignOutAsync(context.Scheme.Name).ConfigureAwait(false);
            return;
        }

        await lifecycle.TouchAsync(store, session, cancellationToken).ConfigureAwait(false);
        AddClaim(context.Principal, sessionId);
    }

    private static async Task OnSigningOutAsync(CookieSigningOutContext context)
    {
        if (context.HttpContext.Items.ContainsKey(RefusingMarker))
        {
            return;
        }

        context.HttpContext.Items[RefusingMarker] = true;
        var result = await context.HttpContext.AuthenticateAsync(context.Scheme.Name).ConfigureAwait(false);
        if (SessionIdOf(result.Properties) is { } sessionId)
        {
            // The user's own sign-out: the revocation is stored before the response, the deliveries happen after it.
            await context.HttpContext.RequestServices.GetRequiredService<IAutoSignOutSessionService>()
                .EndSessionAsync(sessionId, RevocationReasons.Logout, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void AddClaim(ClaimsPrincipal? principal, string sessionId)
    {
        if (principal?.Identity is ClaimsIdentity identity && !identity.HasClaim(AutoSignOutOpenIddictDefaults.SessionIdClaim, sessionId))
        {
            foreach (var stale in identity.FindAll(AutoSignOutOpenIddictDefaults.SessionIdClaim).ToList())
            {
                identity.RemoveClaim(stale);
            }

            identity.AddClaim(new Claim(AutoSignOutOpenIddictDefaults.SessionIdClaim, sessionId));
        }
    }
}
