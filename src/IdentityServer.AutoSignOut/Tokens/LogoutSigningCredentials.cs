using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// The issuer and key that sign logout tokens: the IdP's own, so clients validate them with the keys they already trust.
/// </summary>
/// <param name="Issuer">The IdP's issuer identifier; it becomes the logout token's <c>iss</c>.</param>
/// <param name="Credentials">
/// The signing credentials; the key's <see cref="SecurityKey.KeyId"/> becomes the <c>kid</c> header and the algorithm
/// (RS256 unless the IdP uses another) the <c>alg</c> header.
/// </param>
public sealed record LogoutSigningCredentials(string Issuer, SigningCredentials Credentials);
