using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// An OpenID Provider whose logout tokens this app accepts, and the client ids it knows this app by.
/// Keys come from the provider's discovery document and JWKS, from <see cref="SigningKeys"/>, or both.
/// </summary>
public sealed class OpenIdProvider
{
    /// <summary>
    /// The provider's base address, such as <c>https://idp.example.com</c>. Discovery is read from
    /// <c>{Authority}/.well-known/openid-configuration</c> unless <see cref="MetadataAddress"/> is set.
    /// </summary>
    public string? Authority { get; set; }

    /// <summary>The address of the discovery document. Default: derived from <see cref="Authority"/>.</summary>
    public string? MetadataAddress { get; set; }

    /// <summary>
    /// The exact <c>iss</c> of the provider's tokens. Default: the <c>issuer</c> of the discovery document, and until
    /// it is read, <see cref="Authority"/> without a trailing slash. Required when no metadata is used.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>The client ids this app is registered under at the provider; a logout token's <c>aud</c> must contain one.</summary>
    public IList<string> ClientIds { get; } = [];

    /// <summary>Signing keys to trust in addition to (or, without metadata, instead of) the discovered ones.</summary>
    public IList<SecurityKey> SigningKeys { get; } = [];

    /// <summary>Whether the metadata address must use HTTPS. Default: <see langword="true"/>.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>
    /// The <see cref="HttpClient"/> used to read metadata and keys. Default: the named client
    /// <see cref="AutoSignOutDefaults.HttpClientName"/> from <c>IHttpClientFactory</c>.
    /// </summary>
    public HttpClient? Backchannel { get; set; }

    /// <summary>Whether this provider reads discovery metadata.</summary>
    internal bool UsesMetadata => !string.IsNullOrEmpty(MetadataAddress);

    /// <summary>The issuer expected before metadata is read.</summary>
    internal string? ConfiguredIssuer => Issuer ?? Authority?.TrimEnd('/');
}
