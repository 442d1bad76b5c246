namespace AutoSignOut.IdentityServer;

/// <summary>
/// One logout token to deliver to one client: an outbox row. Created by the engine, stored by an
/// <see cref="ILogoutOutbox"/>, and updated by the dispatcher after every attempt.
/// </summary>
public sealed class LogoutNotification
{
    /// <summary>Identifies the notification; time-ordered (UUID v7).</summary>
    public Guid Id { get; set; }

    /// <summary>The client to notify; the token's <c>aud</c>.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>The client's back-channel logout URI.</summary>
    public Uri Endpoint { get; set; } = null!;

    /// <summary>The subject (<c>sub</c>), when known.</summary>
    public string? Subject { get; set; }

    /// <summary>The session (<c>sid</c>), when known.</summary>
    public string? SessionId { get; set; }

    /// <summary>The reason of the revocation (<c>reason</c> claim).</summary>
    public string Reason { get; set; } = RevocationReasons.Logout;

    /// <summary>Identifiers of revoked tokens (<c>revoked_jti</c> claim); empty when unknown.</summary>
    public IReadOnlyList<string> RevokedTokenIds { get; set; } = [];

    /// <summary>
    /// The logout token minted when the notification was enqueued, used by the first attempt while it is fresh; later
    /// attempts mint a new one so that every attempt carries its own <c>jti</c>.
    /// </summary>
    public string? LogoutToken { get; set; }

    /// <summary>When <see cref="LogoutToken"/> expires.</summary>
    public DateTimeOffset? LogoutTokenExpiresAt { get; set; }

    /// <summary>When the notification was enqueued; the retry horizon counts from here.</summary>
    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the notification is next due.</summary>
    public DateTimeOffset NextAttemptAt { get; set; }

    /// <summary>How many HTTP attempts were made so far.</summary>
    public int Attempts { get; set; }

    /// <summary>
    /// How many dispatches failed or were refused by an open circuit; the retry schedule backs off on it. Default: 0.
    /// </summary>
    public int FailedDispatches { get; set; }

    /// <summary>How many times the client refused this notification's tokens with a 400. Default: 0.</summary>
    public int TokenRejections { get; set; }

    /// <summary>Why the last attempt failed, when it did.</summary>
    public string? LastError { get; set; }

    /// <summary>Where the notification stands.</summary>
    public LogoutNotificationState State { get; set; }

    /// <summary>
    /// The lease under which an engine instance is delivering the notification, or <see langword="null"/>; an
    /// outbox only accepts an outcome from the holder of the current lease.
    /// </summary>
    public Guid? LeaseId { get; set; }

    /// <summary>When the current lease ends and another instance may take the notification.</summary>
    public DateTimeOffset? LeaseExpiresAt { get; set; }

    /// <summary>
    /// The <see cref="AutoSignOutServerOptions.InstanceName"/> of the instance holding the current lease, or
    /// <see langword="null"/>; an instance that restarts under the same name takes its rows back at once.
    /// </summary>
    public string? LeaseOwner { get; set; }

    /// <summary>The longest <see cref="ClientId"/> an outbox must store: 200 characters.</summary>
    public const int MaxClientIdLength = 200;

    /// <summary>The longest <see cref="Endpoint"/> an outbox must store: 2000 characters.</summary>
    public const int MaxEndpointLength = 2000;

    /// <summary>The longest <see cref="Subject"/> or <see cref="SessionId"/> an outbox must store: 200 characters.</summary>
    public const int MaxSubjectLength = 200;

    /// <summary>The longest <see cref="Reason"/> an outbox must store: 100 characters.</summary>
    public const int MaxReasonLength = 100;
}

/// <summary>Where a <see cref="LogoutNotification"/> stands.</summary>
public enum LogoutNotificationState
{
    /// <summary>Waiting for its next attempt (or being delivered under a lease).</summary>
    Pending = 0,

    // 1 stays free: a delivered notification is removed from the outbox, not kept in a state of its own.

    /// <summary>Given up after the retry horizon; kept for inspection.</summary>
    DeadLettered = 2,
}
