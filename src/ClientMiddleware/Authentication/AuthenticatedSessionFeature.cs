namespace AutoSignOut.AspNetCore;

/// <summary>
/// Set on a request whose authentication succeeded and was not revoked: when the credentials were issued.
/// Hub connections and circuits read it to know which revocations cover them.
/// </summary>
public sealed class AuthenticatedSessionFeature(DateTimeOffset issuedAt)
{
    /// <summary>When the credentials (cookie ticket, token) were issued.</summary>
    public DateTimeOffset IssuedAt { get; } = issuedAt;
}
