namespace AutoSignOut.IdentityServer;

/// <summary>
/// The seam an IdP binding implements to lend the engine the IdP's issuer name and current signing key.
/// </summary>
public interface ILogoutSigningCredentialsSource
{
    /// <summary>Returns the issuer and the signing credentials to sign the next logout token with.</summary>
    /// <param name="cancellationToken">Cancels the lookup.</param>
    ValueTask<LogoutSigningCredentials> GetSigningCredentialsAsync(CancellationToken cancellationToken);
}
