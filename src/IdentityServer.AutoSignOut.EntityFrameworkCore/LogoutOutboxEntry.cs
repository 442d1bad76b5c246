namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// The stored form of a <see cref="LogoutNotification"/>: one outbox row. Times are Unix milliseconds (UTC) so that
/// SQLite, PostgreSQL and SQL Server compare and order them the same way.
/// </summary>
public sealed class LogoutOutboxEntry
{
    /// <summary>Primary key; time-ordered (UUID v7).</summary>
    public Guid Id { get; set; }

    /// <summary>The client to notify.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>The client's back-channel logout URI.</summary>
    public string Endpoint { get; set; } = "";

    /// <summary>The subject, when known.</summary>
    public string? Subject { get; set; }

    /// <summary>The session id, when known.</summary>
    public string? SessionId { get; set; }

    /// <summary>The reason of the revocation.</summary>
    public string Reason { get; set; } = "";

    /// <summary>Revoked token ids as a JSON array, or <see langword="null"/> when there are none.</summary>
    public string? RevokedTokenIds { get; set; }

    /// <summary>The token minted at enqueue, until the first attempt uses it.</summary>
    public string? LogoutToken { get; set; }

    /// <summary>When <see cref="LogoutToken"/> expires (Unix milliseconds).</summary>
    public long? LogoutTokenExpiresAt { get; set; }

    /// <summary>When the row was enqueued (Unix milliseconds).</summary>
    public long CreatedAt { get; set; }

    /// <summary>When the row is next due (Unix milliseconds).</summary>
    public long NextAttemptAt { get; set; }

    /// <summary>HTTP attempts made so far.</summary>
    public int Attempts { get; set; }

    /// <summary>Why the last attempt failed.</summary>
    public string? LastError { get; set; }

    /// <summary>A <see cref="LogoutNotificationState"/> value.</summary>
    public int State { get; set; }

    /// <summary>The current lease, or <see langword="null"/>.</summary>
    public Guid? LeaseId { get; set; }

    /// <summary>When the current lease ends (Unix milliseconds).</summary>
    public long? LeaseExpiresAt { get; set; }

    /// <summary>The instance name of the current lease's holder.</summary>
    public string? LeaseOwner { get; set; }

    /// <summary>Failed or circuit-refused dispatches; the retry schedule backs off on it.</summary>
    public int FailedDispatches { get; set; }

    /// <summary>How many times the client refused the notification's tokens with a 400.</summary>
    public int TokenRejections { get; set; }
}
