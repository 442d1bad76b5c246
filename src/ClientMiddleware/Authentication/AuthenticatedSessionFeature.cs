namespace AutoSignOut.AspNetCore;

/// <summary>
/// Set on a request whose authentication succeeded and was not revoked: when the credentials were issued.
/// Hub connections and circuits read it to know which revocations cover them.
/// </summary>
public sealed class AuthenticatedSessionFeature(IssueTime issuedAt)
{
    /// <summary>When the credentials (cookie ticket, token) were issued, and on whose clock.</summary>
    public IssueTime IssuedAt { get; } = issuedAt;
}
