using System.Security.Claims;

namespace AutoSignOut.AspNetCore;

/// <summary>Finds the session-related claims of a principal.</summary>
public static class SessionClaims
{
    /// <summary>
    /// Finds the session id claim: <c>sid</c>, or <see cref="ClaimTypes.Sid"/>, the name the OpenID Connect and JWT
    /// bearer handlers give <c>sid</c> when they map inbound claims.
    /// </summary>
    /// <param name="principal">The principal.</param>
    public static Claim? FindSessionId(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.FindFirst(AutoSignOutDefaults.SessionIdClaim) ?? principal.FindFirst(ClaimTypes.Sid);
    }

    /// <summary>Finds the subject claim: <c>sub</c>, or <see cref="ClaimTypes.NameIdentifier"/>.</summary>
    /// <param name="principal">The principal.</param>
    public static Claim? FindSubject(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return principal.FindFirst(ConnectionKey.SubjectType) ?? principal.FindFirst(ClaimTypes.NameIdentifier);
    }

    /// <summary>
    /// The issuer of the principal's session: the issuer of its <c>sid</c> claim, else of its subject claim, else of its
    /// <c>jti</c> claim (an access token without a session or subject). Handlers set a claim's issuer to the token's
    /// <c>iss</c>; a local sign-in uses <see cref="ClaimsIdentity.DefaultIssuer"/> unless the app names its own.
    /// </summary>
    /// <param name="principal">The principal.</param>
    public static string? FindIssuer(this ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        return FindIssuerClaim(principal)?.Issuer;
    }

    internal static Claim? FindIssuerClaim(ClaimsPrincipal principal) =>
        principal.FindSessionId() ?? principal.FindSubject() ?? principal.FindFirst(ConnectionKey.TokenType);
}
