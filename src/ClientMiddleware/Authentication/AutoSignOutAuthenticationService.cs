using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Decorates the app's <see cref="IAuthenticationService"/> (ASP.NET Core's, with its metrics) so every scheme is
/// covered without per-handler wiring: an authentication whose session was revoked fails (and a cookie is cleared),
/// and a sign-in records a precise issue time (unless it re-issues a ticket that has one) and, when the principal has
/// none, a session id of the principal's own issuer.
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
    internal const string IssuedTicksItem = SessionCheck.IssuedTicksItem;

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
        var issuedAt = GetIssuedAt(result);
        var issuer = principal.FindIssuer();
        var revoked = store.IsRevoked(issuer, keys, issuedAt);
        if (!revoked)
        {
            // A shared store that may be behind (catching up after a disconnect) holds the answer until it is current.
            var current = store.WaitUntilCurrentAsync(context.RequestAborted);
            if (!current.IsCompletedSuccessfully || !current.Result)
            {
                if (!await current)
                {
                    metrics.Refused("not_current");
                    return AuthenticateResult.Fail("The revoked sessions could not be checked; try again.");
                }

                revoked = store.IsRevoked(issuer, keys, issuedAt);
            }
        }

        if (!revoked)
        {
            context.Features.Set(new AuthenticatedSessionFeature(issuedAt));
            if (context.GetEndpoint()?.Metadata.GetMetadata<HubMetadata>() is not null || context.GetEndpoint() is null)
            {
                // Hub requests only (or where routing has not run): the connection finds its issue time from its principal.
                CredentialIssueTimes.Record(principal, issuedAt);
            }

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
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(principal);
        properties ??= new AuthenticationProperties();

        // Stamped only when absent: a sign-in that re-issues a ticket (a claims refresh from OnValidatePrincipal) keeps
        // the ticket's issue time, so re-issuing cannot make a session newer than a revocation that covers it.
        var issuedAt = context.Items.TryGetValue(SessionCheck.ReissuedTicketTimeKey, out var reissued) && reissued is IssueTime ticketTime
            ? ticketTime
            : IssueTime.Local(time.GetUtcNow());
        SessionCheck.Stamp(properties, issuedAt);

        if (_options.AddSessionIdAtSignIn && principal.FindSessionId() is null && principal.Identity is ClaimsIdentity identity)
        {
            // The session id belongs to the principal's issuer (an OpenID Provider's sign-in without 'sid' stays the
            // provider's session, which its sub-only logout must reach), or to the app when the principal names none.
            var issuer = principal.FindSubject()?.Issuer ?? _options.LocalIssuer;
            identity.AddClaim(new Claim(AutoSignOutDefaults.SessionIdClaim, Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(16)), ClaimValueTypes.String, issuer));
            Log.SessionIdAdded(logger, scheme);
        }

        return inner.SignInAsync(context, scheme, principal, properties);
    }

    /// <summary>When the credentials were issued; see <see cref="SessionCheck.GetIssueTime"/>.</summary>
    internal static IssueTime GetIssuedAt(AuthenticateResult result) => SessionCheck.GetIssueTime(result.Properties, result.Principal!);
}
