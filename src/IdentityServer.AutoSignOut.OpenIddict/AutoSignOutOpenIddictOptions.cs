using System.ComponentModel.DataAnnotations;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Settings of the OpenIddict binding. Validated when the host starts. The engine's own settings (retries, timeouts,
/// outbox) stay in <see cref="AutoSignOutServerOptions"/>.
/// </summary>
public sealed class AutoSignOutOpenIddictOptions
{
    /// <summary>
    /// The cookie authentication schemes whose sign-ins start an IdP login session (a <c>sid</c>) and whose sign-outs end
    /// it. Default: <c>Identity.Application</c> (ASP.NET Core Identity) and <c>Cookies</c>
    /// (<c>CookieAuthenticationDefaults.AuthenticationScheme</c>).
    /// </summary>
    public ISet<string> CookieSchemes { get; } = new HashSet<string>(AutoSignOutOpenIddictDefaults.CookieSchemes, StringComparer.Ordinal);

    /// <summary>
    /// How long an IdP session may stay unused (no request with its cookie, no token refresh) before it ends and its
    /// clients are notified; <see langword="null"/> for no idle limit. Default: <see langword="null"/>.
    /// </summary>
    public TimeSpan? SessionIdleTimeout { get; set; }

    /// <summary>
    /// The longest an IdP session lives from its sign-in, whatever its activity; <see langword="null"/> for no limit.
    /// Default: <see langword="null"/>.
    /// </summary>
    public TimeSpan? SessionLifetime { get; set; }

    /// <summary>How often expired sessions are looked for and ended. Default: 30 seconds.</summary>
    public TimeSpan SessionExpirationScanInterval { get; set; } = AutoSignOutOpenIddictDefaults.SessionExpirationScanInterval;

    /// <summary>
    /// How long an ended session is kept (so that a late refresh or a late notification still finds it) before it is
    /// deleted. Default: 14 days.
    /// </summary>
    public TimeSpan EndedSessionRetention { get; set; } = AutoSignOutOpenIddictDefaults.EndedSessionRetention;

    /// <summary>
    /// Whether ending an IdP session also revokes its OpenIddict authorizations and tokens (refresh tokens included), so
    /// that a client cannot refresh its way past a sign-out; the token endpoint also refuses a refresh token or code of
    /// an ended session. Default: <see langword="true"/>.
    /// </summary>
    public bool EndingSessionRevokesTokens { get; set; } = true;

    /// <summary>
    /// The issuer of logout tokens; <see langword="null"/> (the default) to use OpenIddict's
    /// <c>OpenIddictServerOptions.Issuer</c>. One of the two must be set: logout tokens are minted outside any request,
    /// and relying parties compare their <c>iss</c> with the discovery document's <c>issuer</c>.
    /// </summary>
    public Uri? Issuer { get; set; }

    /// <summary>How many sessions the expiration scan ends per round. Default: 100.</summary>
    [Range(1, 10_000)]
    public int SessionExpirationBatchSize { get; set; } = 100;
}
