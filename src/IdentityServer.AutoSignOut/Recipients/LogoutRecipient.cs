namespace AutoSignOut.IdentityServer;

/// <summary>
/// One client application to notify about a revocation through its back-channel logout endpoint.
/// </summary>
/// <param name="ClientId">The client id; it becomes the logout token's <c>aud</c>.</param>
/// <param name="BackChannelLogoutUri">The absolute back-channel logout URI the token is POSTed to.</param>
/// <param name="RequiresSessionId">
/// Whether the client registered <c>backchannel_logout_session_required</c>; such a client is skipped when no
/// session id is known, because a token without <c>sid</c> would be refused.
/// </param>
public sealed record LogoutRecipient(string ClientId, Uri BackChannelLogoutUri, bool RequiresSessionId = false)
{
    /// <summary>
    /// The session id to put in this recipient's token instead of the revocation's own, or <see langword="null"/>
    /// (the default) to use <see cref="Revocation.SessionId"/>. A recipient source sets it when it expands "sign out
    /// everywhere" into one notification per session.
    /// </summary>
    public string? SessionId { get; init; }
}
