namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>Default values and names of the OpenIddict binding.</summary>
public static class AutoSignOutOpenIddictDefaults
{
    /// <summary>The cookie schemes that carry an IdP login session by default.</summary>
    public static readonly IReadOnlyList<string> CookieSchemes = ["Identity.Application", "Cookies"];

    /// <summary>The authentication property that holds the session id in the IdP's cookie: <c>.autosignout.sid</c>.</summary>
    public const string SessionIdProperty = ".autosignout.sid";

    /// <summary>The session id claim, as in OpenID Connect Front- and Back-Channel Logout: <c>sid</c>.</summary>
    public const string SessionIdClaim = "sid";

    /// <summary>The application property holding the back-channel logout URI: <c>backchannel_logout_uri</c>.</summary>
    public const string BackChannelLogoutUriProperty = "backchannel_logout_uri";

    /// <summary>The application property holding whether the client needs a <c>sid</c>: <c>backchannel_logout_session_required</c>.</summary>
    public const string BackChannelLogoutSessionRequiredProperty = "backchannel_logout_session_required";

    /// <summary>Default of <see cref="AutoSignOutOpenIddictOptions.SessionExpirationScanInterval"/>.</summary>
    public static readonly TimeSpan SessionExpirationScanInterval = TimeSpan.FromSeconds(30);

    /// <summary>Default of <see cref="AutoSignOutOpenIddictOptions.EndedSessionRetention"/>.</summary>
    public static readonly TimeSpan EndedSessionRetention = TimeSpan.FromDays(14);
}
