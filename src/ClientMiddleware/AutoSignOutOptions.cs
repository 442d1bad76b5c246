using System.Security.Claims;

namespace AutoSignOut.AspNetCore;

/// <summary>Options of AutoSignOut's client middleware.</summary>
public sealed class AutoSignOutOptions
{
    /// <summary>The OpenID Providers whose logout tokens are accepted. Several providers and client ids are supported.</summary>
    public IList<OpenIdProvider> Providers { get; } = [];

    /// <summary>
    /// The signing algorithms accepted in logout tokens. Default: <see cref="AutoSignOutDefaults.AllowedAlgorithms"/>.
    /// <c>none</c> is never accepted; HMAC algorithms only with symmetric keys given in <see cref="OpenIdProvider.SigningKeys"/>.
    /// </summary>
    public IList<string> AllowedAlgorithms { get; } = [.. AutoSignOutDefaults.AllowedAlgorithms];

    /// <summary>
    /// Whether a logout token must carry the <c>typ</c> header <c>logout+jwt</c>. Default: <see langword="false"/>: the
    /// header may also be absent or <c>JWT</c>, as the specification allows. Any other type is always refused.
    /// </summary>
    public bool RequireLogoutTokenType { get; set; }

    /// <summary>The clock skew allowed when checking <c>iat</c> and <c>exp</c>. Default: 2 minutes; at most 5 minutes.</summary>
    public TimeSpan ClockSkew { get; set; } = AutoSignOutDefaults.ClockSkew;

    /// <summary>
    /// The oldest <c>iat</c> accepted, as an age. Default: <see langword="null"/>: any age, as long as the token has not expired.
    /// </summary>
    public TimeSpan? MaxLogoutTokenAge { get; set; }

    /// <summary>
    /// The longest accepted logout-token lifetime, <c>exp</c> - <c>iat</c>. Default: 10 minutes. It also bounds how long a
    /// token's <c>jti</c> is remembered.
    /// </summary>
    public TimeSpan MaxLogoutTokenLifetime { get; set; } = AutoSignOutDefaults.MaxLogoutTokenLifetime;

    /// <summary>How long one read of a provider's metadata and keys may take, whoever waits for it. Default: 10 seconds.</summary>
    public TimeSpan KeyRefreshTimeout { get; set; } = AutoSignOutDefaults.KeyRefreshTimeout;

    /// <summary>
    /// How long a closing connection's sign-out message may take; then the connection is aborted anyway, so a client that
    /// stops reading cannot delay its own close or the provider's answer. Default: 2 seconds.
    /// </summary>
    public TimeSpan FarewellTimeout { get; set; } = AutoSignOutDefaults.FarewellTimeout;

    /// <summary>
    /// The issuer of the app's own sessions: the claim issuer of its local sign-ins (<see cref="ClaimsIdentity.DefaultIssuer"/>,
    /// <c>LOCAL AUTHORITY</c>, unless the app names its own) and the issuer <see cref="IAutoSignOutService"/> signs out when
    /// given none. A provider's users are reached only with the provider's issuer.
    /// </summary>
    public string LocalIssuer { get; set; } = ClaimsIdentity.DefaultIssuer;

    /// <summary>The largest back-channel request body, in bytes. Default: 64 KiB. Larger requests are refused unread.</summary>
    public long MaxRequestBodySize { get; set; } = AutoSignOutDefaults.MaxRequestBodySize;

    /// <summary>
    /// The shortest interval between two key refreshes caused by an unknown <c>kid</c>, per provider: one such refresh is
    /// allowed per interval, even right after another read. Also the longest back-off after a failed read. Default: 1 minute.
    /// </summary>
    public TimeSpan MinimumKeyRefreshInterval { get; set; } = AutoSignOutDefaults.MinimumKeyRefreshInterval;

    /// <summary>How long discovered metadata and keys are used before they are read again. Default: 12 hours.</summary>
    public TimeSpan AutomaticKeyRefreshInterval { get; set; } = AutoSignOutDefaults.AutomaticKeyRefreshInterval;

    /// <summary>
    /// How long a revoked session is remembered and refused. Default: 14 days. Set it to at least the lifetime of
    /// the app's cookies and tokens: a credential that outlives its revocation entry is accepted again.
    /// </summary>
    public TimeSpan RevocationLifetime { get; set; } = AutoSignOutDefaults.RevocationLifetime;

    /// <summary>
    /// Whether a sign-in whose principal has no session id gets a random <c>sid</c> claim, so a local cookie
    /// sign-in can be signed out by session. Default: <see langword="true"/>.
    /// </summary>
    public bool AddSessionIdAtSignIn { get; set; } = true;

    /// <summary>
    /// Whether a cookie that belongs to a revoked session is cleared when it is refused. Default: <see langword="true"/>.
    /// </summary>
    public bool ClearRevokedCookies { get; set; } = true;

    /// <summary>The client method a SignalR connection receives, with the reason, before it is aborted. Default: <c>signedOut</c>.</summary>
    public string ClientMethod { get; set; } = AutoSignOutDefaults.ClientMethod;

    /// <summary>The keys a live connection's principal is registered under. Default: <see cref="ConnectionKeyDefaults.FromPrincipal"/>.</summary>
    public Func<ClaimsPrincipal, IReadOnlyList<ConnectionKey>> ConnectionKeys { get; set; } = ConnectionKeyDefaults.FromPrincipal;

    /// <summary>The keys a signal closes. Default: <see cref="ConnectionKeyDefaults.FromSignal"/>.</summary>
    public Func<SignOutSignal, IReadOnlyList<ConnectionKey>> SignalKeys { get; set; } = ConnectionKeyDefaults.FromSignal;

    /// <summary>The events apps hook into (audit, custom closing).</summary>
    public AutoSignOutEvents Events { get; set; } = new();
}
