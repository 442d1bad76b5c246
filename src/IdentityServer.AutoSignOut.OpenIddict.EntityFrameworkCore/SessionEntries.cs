namespace AutoSignOut.IdentityServer.OpenIddict.EntityFrameworkCore;

/// <summary>A row of the IdP session table. Times are Unix milliseconds, which every provider orders alike.</summary>
public sealed class AutoSignOutSessionEntry
{
    /// <summary>The session id (<c>sid</c>).</summary>
    public string SessionId { get; set; } = string.Empty;

    /// <summary>The user (<c>sub</c>).</summary>
    public string Subject { get; set; } = string.Empty;

    /// <summary>When the session started (Unix milliseconds).</summary>
    public long CreatedAt { get; set; }

    /// <summary>The last activity recorded (Unix milliseconds).</summary>
    public long LastActivityAt { get; set; }

    /// <summary>When the session ended (Unix milliseconds), or <see langword="null"/> while active.</summary>
    public long? EndedAt { get; set; }
}

/// <summary>A row of the session participants table: a client that took part in a session.</summary>
public sealed class AutoSignOutSessionClientEntry
{
    /// <summary>The session id.</summary>
    public string SessionId { get; set; } = string.Empty;

    /// <summary>The client id.</summary>
    public string ClientId { get; set; } = string.Empty;

    /// <summary>The OpenIddict authorization id of the client's tokens in the session, or empty when none.</summary>
    public string AuthorizationId { get; set; } = string.Empty;
}
