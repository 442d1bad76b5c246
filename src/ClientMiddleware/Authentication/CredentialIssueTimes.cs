using System.Runtime.CompilerServices;
using System.Security.Claims;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Remembers the issue time of each authenticated identity, so a hub connection or circuit finds it from its principal
/// alone: SignalR's long polling runs the hub on a cloned <c>HttpContext</c>, and an authorization policy with several
/// schemes merges their identities into a new principal, but the identities are the same objects.
/// </summary>
internal static class CredentialIssueTimes
{
    private static readonly ConditionalWeakTable<ClaimsIdentity, StrongBox<IssueTime>> Times = new();

    public static void Record(ClaimsPrincipal principal, IssueTime issuedAt)
    {
        foreach (var identity in principal.Identities)
        {
            Times.AddOrUpdate(identity, new StrongBox<IssueTime>(issuedAt));
        }
    }

    /// <summary>The issue time of the identity that holds the principal's session claims (those that name its issuer).</summary>
    public static IssueTime Find(ClaimsPrincipal principal)
    {
        var identity = SessionClaims.FindIssuerClaim(principal)?.Subject;
        return identity is not null && Times.TryGetValue(identity, out var box) ? box.Value : IssueTime.Unknown;
    }
}
