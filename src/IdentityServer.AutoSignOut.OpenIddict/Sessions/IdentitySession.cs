namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// An IdP login session: what a user's sign-in at the identity provider started, named by its <c>sid</c>, with the
/// clients that received tokens in it.
/// </summary>
/// <param name="SessionId">The session id (<c>sid</c>) put into the session's id, access and refresh tokens.</param>
/// <param name="Subject">The user (<c>sub</c>).</param>
/// <param name="CreatedAt">When the user signed in.</param>
/// <param name="LastActivityAt">The last request with the session's cookie or token refresh seen (updated coarsely).</param>
/// <param name="EndedAt">When the session ended, or <see langword="null"/> while it is active.</param>
/// <param name="Clients">The clients that took part, each with the OpenIddict authorization its tokens belong to.</param>
public sealed record IdentitySession(
    string SessionId,
    string Subject,
    DateTimeOffset CreatedAt,
    DateTimeOffset LastActivityAt,
    DateTimeOffset? EndedAt,
    IReadOnlyList<SessionClient> Clients)
{
    /// <summary>Whether the session has not ended.</summary>
    public bool IsActive => EndedAt is null;
}

/// <summary>A client that took part in an IdP session.</summary>
/// <param name="ClientId">The client id.</param>
/// <param name="AuthorizationId">The OpenIddict authorization of its tokens in this session, when one was created.</param>
public sealed record SessionClient(string ClientId, string? AuthorizationId);
