using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Decorates the app's <see cref="IAuthenticationService"/> (ASP.NET Core's, with its metrics) so every scheme is
/// covered without per-handler wiring: an authentication whose session was revoked fails (and a cookie is cleared),
/// and a sign-in records a precise issue time and, when the principal has none, a session id.
/// </summary>
internal sealed class AutoSignOutAuthenticationService(
    IAuthenticationService inner,
    IAuthenticationHandlerProvider handlers,
    IOptions<AutoSignOutOptions> options,
    IRevokedSessionStore store,
    AutoSignOutMetrics metrics,
    TimeProvider time,
    ILogger<AutoSignOutAuthenticationService> logger)
    : IAuthenticationService
{
    /// <summary>The authentication-properties item holding the sign-in time in ticks (the cookie's own is rounded to seconds).</summary>
    internal const string IssuedTicksItem = ".autosignout.issued";

    private static readonly object ClearedKey = new();

    private readonly AutoSignOutOptions _options = options.Value;

    public async Task<AuthenticateResult> AuthenticateAsync(HttpContext context, string? scheme)
    {
        var result = await inner.AuthenticateAsync(context, scheme);
        if (!result.Succeeded)
        {
            return result;
        }

        var principal = result.Principal;
        var keys = _options.ConnectionKeys(principal);
        if (keys.Count == 0)
        {
            return result;
        }

        // Credentials of unknown age are taken as old: a revocation of their keys covers them.
        var issuedAt = GetIssuedAt(result) ?? DateTimeOffset.MinValue;
        if (!store.IsRevoked(principal.FindIssuer(), keys, issuedAt))
        {
            context.Features.Set(new AuthenticatedSessionFeature(issuedAt));
            return result;
        }

        var schemeName = result.Ticket.AuthenticationScheme;
        metrics.Refused("authentication");
        Log.RevokedCredentialsRefused(logger, "authentication", schemeName);
        if (_options.ClearRevokedCookies && !context.Response.HasStarted && !context.Items.ContainsKey(ClearedKey)
            && await handlers.GetHandlerAsync(context, schemeName) is CookieAuthenticationHandler)
        {
            context.Items[ClearedKey] = true;
            await inner.SignOutAsync(context, schemeName, null);
        }

        return AuthenticateResult.Fail("The session was signed out.");
    }

    public Task ChallengeAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.ChallengeAsync(context, scheme, properties);

    public Task ForbidAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.ForbidAsync(context, scheme, properties);

    public Task SignOutAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) => inner.SignOutAsync(context, scheme, properties);

    public Task SignInAsync(HttpContext context, string? scheme, ClaimsPrincipal principal, AuthenticationProperties? properties)
    {
        ArgumentNullException.ThrowIfNull(principal);
        properties ??= new AuthenticationProperties();
        properties.Items[IssuedTicksItem] = time.GetUtcNow().UtcTicks.ToString(CultureInfo.InvariantCulture);
        if (_options.AddSessionIdAtSignIn && principal.FindSessionId() is null && principal.Identity is ClaimsIdentity identity)
        {
            identity.AddClaim(new Claim(AutoSignOutDefaults.SessionIdClaim, Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16))));
            Log.SessionIdAdded(logger, scheme);
        }

        return inner.SignInAsync(context, scheme, principal, properties);
    }

    /// <summary>When the credentials were issued: the precise sign-in time, else the ticket's, else the token's <c>iat</c> or <c>auth_time</c>.</summary>
    internal static DateTimeOffset? GetIssuedAt(AuthenticateResult result)
    {
        var properties = result.Properties;
        if (properties is not null)
        {
            if (properties.Items.TryGetValue(IssuedTicksItem, out var ticks) && long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                && value >= DateTimeOffset.MinValue.UtcTicks && value <= DateTimeOffset.MaxValue.UtcTicks)
            {
                return new DateTimeOffset(value, TimeSpan.Zero);
            }

            if (properties.IssuedUtc is { } issued)
            {
                return issued;
            }
        }

        var principal = result.Principal!;
        var claim = principal.FindFirst("iat") ?? principal.FindFirst("auth_time");
        return claim is not null && long.TryParse(claim.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300799
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
    }
}
