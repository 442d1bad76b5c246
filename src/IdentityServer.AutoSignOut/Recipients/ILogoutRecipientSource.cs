namespace AutoSignOut.IdentityServer;

/// <summary>
/// The seam an IdP binding implements to say who must hear about a revocation: the clients that share the session,
/// or every client the subject has grants with, each with its back-channel logout URI.
/// </summary>
public interface ILogoutRecipientSource
{
    /// <summary>Returns the clients to notify about <paramref name="revocation"/>; an empty list when there are none.</summary>
    /// <param name="revocation">The revocation being processed.</param>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    ValueTask<IReadOnlyList<LogoutRecipient>> GetRecipientsAsync(Revocation revocation, CancellationToken cancellationToken);
}
