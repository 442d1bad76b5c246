using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// What the authentication service and the cookie events share: when a credential was issued (and on whose clock), and
/// whether its session is revoked.
/// </summary>
internal sealed class SessionCheck(IOptions<AutoSignOutOptions> options, IRevokedSessionStore store)
{
    /// <summary>The authentication-properties item holding the sign-in time in ticks on this node's clock (the cookie's own is rounded to seconds).</summary>
    internal const string IssuedTicksItem = ".autosignout.issued";

    /// <summary>The <see cref="Microsoft.AspNetCore.Http.HttpContext.Items"/> key of the issue time of a ticket being validated, for a sign-in that re-issues it.</summary>
    internal static readonly object ReissuedTicketTimeKey = new();

    private readonly AutoSignOutOptions _options = options.Value;

    public IReadOnlyList<ConnectionKey> KeysOf(ClaimsPrincipal principal) => _options.ConnectionKeys(principal);

    public bool IsRevoked(ClaimsPrincipal principal, IssueTime issuedAt)
    {
        var keys = _options.ConnectionKeys(principal);
        return keys.Count > 0 && store.IsRevoked(principal.FindIssuer(), keys, issuedAt);
    }

    /// <summary>
    /// When a credential was issued: the precise sign-in time recorded here; else the token's <c>iat</c> (the provider's
    /// clock; a bearer handler's ticket time is the token's <c>nbf</c>, which is not its issue time); else the ticket's
    /// issue time (this node's clock); else the token's <c>auth_time</c>; else unknown.
    /// </summary>
    public static IssueTime GetIssueTime(AuthenticationProperties? properties, ClaimsPrincipal principal)
    {
        if (properties is not null && properties.Items.TryGetValue(IssuedTicksItem, out var ticks)
            && long.TryParse(ticks, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return value > 0 && value <= DateTimeOffset.MaxValue.UtcTicks ? IssueTime.Local(new DateTimeOffset(value, TimeSpan.Zero)) : IssueTime.Unknown;
        }

        if (ReadSeconds(principal.FindFirst("iat")) is { } iat)
        {
            return iat.Local ? IssueTime.Local(iat.At) : IssueTime.Provider(iat.At);
        }

        if (properties?.IssuedUtc is { } issued)
        {
            return IssueTime.Local(issued);
        }

        return ReadSeconds(principal.FindFirst("auth_time")) is { } authTime
            ? (authTime.Local ? IssueTime.Local(authTime.At) : IssueTime.Provider(authTime.At))
            : IssueTime.Unknown;
    }

    /// <summary>Records <paramref name="issuedAt"/> in the properties, unless they already hold a precise time.</summary>
    public static void Stamp(AuthenticationProperties properties, IssueTime issuedAt)
    {
        if (!properties.Items.ContainsKey(IssuedTicksItem))
        {
            // A time on the provider's clock cannot be kept as a local one: the cookie then counts as of unknown age (0).
            var ticks = issuedAt.Clock == IssueTimeClock.Local ? issuedAt.Ticks : 0;
            properties.Items[IssuedTicksItem] = ticks.ToString(CultureInfo.InvariantCulture);
        }
    }

    private static (DateTimeOffset At, bool Local)? ReadSeconds(Claim? claim) =>
        claim is not null && long.TryParse(claim.Value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds) && seconds < 253402300799
            ? (DateTimeOffset.FromUnixTimeSeconds(seconds), string.Equals(claim.Issuer, ClaimsIdentity.DefaultIssuer, StringComparison.Ordinal))
            : null;
}
