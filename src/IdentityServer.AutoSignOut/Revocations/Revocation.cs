namespace AutoSignOut.IdentityServer;

/// <summary>
/// A revocation seen at the identity provider: everything the engine needs to tell the affected clients.
/// </summary>
/// <remarks>
/// At least one of <see cref="Subject"/> and <see cref="SessionId"/> is required, as OIDC Back-Channel Logout 1.0
/// requires a logout token to name a subject, a session or both.
/// </remarks>
public sealed record Revocation
{
    /// <summary>The subject (<c>sub</c>) whose credentials were revoked, when known.</summary>
    public string? Subject { get; init; }

    /// <summary>The session (<c>sid</c>) that ended, when the revocation concerns one session.</summary>
    public string? SessionId { get; init; }

    /// <summary>
    /// The clients to notify, or <see langword="null"/> (the default) to let the <see cref="ILogoutRecipientSource"/>
    /// decide (all clients that share the session, or all clients the subject has grants with).
    /// </summary>
    public IReadOnlyCollection<string>? ClientIds { get; init; }

    /// <summary>
    /// The identifiers (<c>jti</c>) of the access and refresh tokens that were revoked, when known. They travel in the
    /// <c>revoked_jti</c> claim so that clients can close connections authenticated by bearer tokens. Empty by default.
    /// </summary>
    public IReadOnlyList<string> RevokedTokenIds { get; init; } = [];

    /// <summary>Why the credentials were revoked; one of <see cref="RevocationReasons"/> or an application's own word.</summary>
    public string Reason { get; init; } = RevocationReasons.Logout;
}
