namespace AutoSignOut.AspNetCore;

/// <summary>Default values used by AutoSignOut.</summary>
public static class AutoSignOutDefaults
{
    /// <summary>The default path of the back-channel logout endpoint: <c>/signout-backchannel</c>.</summary>
    public const string BackChannelLogoutPath = "/signout-backchannel";

    /// <summary>The name of the <see cref="HttpClient"/> used to fetch OpenID Provider metadata and keys.</summary>
    public const string HttpClientName = "AutoSignOut.Backchannel";

    /// <summary>The client method a SignalR connection receives, with the reason, just before it is aborted: <c>signedOut</c>.</summary>
    public const string ClientMethod = "signedOut";

    /// <summary>The JWT <c>typ</c> header value of a logout token: <c>logout+jwt</c>.</summary>
    public const string LogoutTokenType = "logout+jwt";

    /// <summary>The member of the <c>events</c> claim that marks a back-channel logout token.</summary>
    public const string BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>The additional logout-token claim that carries the reason of the sign-out: <c>reason</c>.</summary>
    public const string ReasonClaim = "reason";

    /// <summary>The additional logout-token claim that lists revoked token ids (<c>jti</c>s): <c>revoked_jti</c>.</summary>
    public const string RevokedTokenIdsClaim = "revoked_jti";

    /// <summary>The claim type that holds a session id: <c>sid</c>.</summary>
    public const string SessionIdClaim = "sid";

    /// <summary>The name of the meter and the activity source: <c>AutoSignOut.AspNetCore</c>.</summary>
    public const string TelemetryName = "AutoSignOut.AspNetCore";

    /// <summary>The largest accepted back-channel request body: 64 KiB.</summary>
    public const long MaxRequestBodySize = 64 * 1024;

    /// <summary>The default clock skew allowed when checking <c>iat</c> and <c>exp</c>: 2 minutes.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(2);

    /// <summary>How long a revoked session is remembered: 14 days, the cookie handler's default lifetime.</summary>
    public static readonly TimeSpan RevocationLifetime = TimeSpan.FromDays(14);

    /// <summary>The shortest interval between two key refreshes caused by an unknown <c>kid</c>: 1 minute.</summary>
    public static readonly TimeSpan MinimumKeyRefreshInterval = TimeSpan.FromMinutes(1);

    /// <summary>How long discovered keys are used before they are fetched again: 12 hours.</summary>
    public static readonly TimeSpan AutomaticKeyRefreshInterval = TimeSpan.FromHours(12);

    /// <summary>The longest accepted logout-token lifetime (<c>exp</c> - <c>iat</c>): 10 minutes.</summary>
    public static readonly TimeSpan MaxLogoutTokenLifetime = TimeSpan.FromMinutes(10);

    /// <summary>How long one read of a provider's metadata and keys may take: 10 seconds.</summary>
    public static readonly TimeSpan KeyRefreshTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a closing connection's sign-out message may take before the connection is aborted anyway: 2 seconds.</summary>
    public static readonly TimeSpan FarewellTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The signing algorithms accepted by default: RSA, RSA-PSS and ECDSA with SHA-2.</summary>
    public static IReadOnlyList<string> AllowedAlgorithms { get; } =
        ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"];
}
