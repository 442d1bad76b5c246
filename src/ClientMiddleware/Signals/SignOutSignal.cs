namespace AutoSignOut.AspNetCore;

/// <summary>
/// A sign-out: a session, a user or tokens that must lose every live connection and be refused from now on.
/// Made from a validated logout token or by the in-app API, and carried by the <see cref="ISignOutSignalBus"/> to every node.
/// </summary>
public sealed record SignOutSignal
{
    /// <summary>The issuer whose sessions are meant, or <see langword="null"/> for any issuer (signals raised by the app itself).</summary>
    public string? Issuer { get; init; }

    /// <summary>The subject (user id), when known.</summary>
    public string? Subject { get; init; }

    /// <summary>The session id; when present only that session is signed out.</summary>
    public string? SessionId { get; init; }

    /// <summary>Revoked token ids (<c>jti</c>); connections authenticated by those tokens close too.</summary>
    public IReadOnlyList<string> TokenIds { get; init; } = [];

    /// <summary>Why, for the user and for audit, such as <c>logout</c> or <c>password_changed</c>.</summary>
    public string? Reason { get; init; }

    /// <summary>
    /// When the signal was raised, on this node's clock: sessions issued here at or before this moment are revoked. From a
    /// logout token it is <c>min(receipt, iat + 1 s + clock skew)</c>, so a replay later is harmless. It may not lie in the
    /// future (<see cref="IAutoSignOutService.PublishAsync"/> refuses it; a processor takes now instead).
    /// </summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>
    /// When the OpenID Provider issued the logout token (its <c>iat</c>), on the provider's clock, or <see langword="null"/>
    /// for a signal raised by the app. Credentials the provider timestamped (a bearer token's <c>iat</c>) are compared
    /// with this, on the same clock; without it they are compared with <see cref="CreatedAt"/> plus the clock skew.
    /// </summary>
    public DateTimeOffset? ProviderIssuedAt { get; init; }

    /// <summary>Where the signal came from: <see cref="SignOutSignalSources.BackChannelLogout"/> or <see cref="SignOutSignalSources.Application"/>.</summary>
    public string Source { get; init; } = SignOutSignalSources.Application;

    /// <summary>The <c>jti</c> of the logout token that raised the signal, if any.</summary>
    public string? LogoutTokenId { get; init; }
}

/// <summary>Values of <see cref="SignOutSignal.Source"/>; no others are accepted (the source is a metric tag).</summary>
public static class SignOutSignalSources
{
    /// <summary>A validated back-channel logout token.</summary>
    public const string BackChannelLogout = "backchannel_logout";

    /// <summary>The in-app API (<see cref="IAutoSignOutService"/>).</summary>
    public const string Application = "application";

    /// <summary>The metric tag of a signal whose source is neither (relayed by a bus from an unknown sender).</summary>
    internal const string Other = "other";

    internal static bool IsKnown(string? source) => source is BackChannelLogout or Application;
}
