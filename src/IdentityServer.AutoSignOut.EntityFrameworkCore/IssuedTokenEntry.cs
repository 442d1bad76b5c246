namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>The stored form of an <see cref="IssuedToken"/>: one row of the jti index.</summary>
public sealed class IssuedTokenEntry
{
    /// <summary>The token's <c>jti</c>; primary key.</summary>
    public string TokenId { get; set; } = "";

    /// <summary>The client it was issued to.</summary>
    public string ClientId { get; set; } = "";

    /// <summary>Its subject, when it has one.</summary>
    public string? Subject { get; set; }

    /// <summary>Its session, when it has one.</summary>
    public string? SessionId { get; set; }

    /// <summary>When it expires (Unix milliseconds).</summary>
    public long ExpiresAt { get; set; }
}
