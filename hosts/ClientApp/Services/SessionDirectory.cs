using System.Collections.Concurrent;
using System.Security.Claims;
using AutoSignOut.AspNetCore;

namespace AutoSignOut.ClientApp.Services;

/// <summary>The sessions signed in on this node, for the admin page. A real app would keep them in its database.</summary>
public sealed class SessionDirectory(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, SessionEntry> _sessions = new(StringComparer.Ordinal);

    /// <summary>Raised when a session is added or revoked.</summary>
    public event Action? Changed;

    /// <summary>Records a sign-in. Called when the cookie is issued, after AutoSignOut added the session id.</summary>
    /// <param name="principal">The signed-in principal.</param>
    public void Record(ClaimsPrincipal principal)
    {
        var sid = principal.FindSessionId()?.Value;
        var sub = principal.FindSubject()?.Value;
        if (sid is null || sub is null)
        {
            return;
        }

        var name = principal.FindFirst("name")?.Value ?? sub;
        _sessions[sid] = new SessionEntry(sid, sub, name, principal.FindFirst("amr")?.Value == "local" ? "local" : "oidc", time.GetUtcNow(), null) { Issuer = principal.FindIssuer() };
        Changed?.Invoke();
    }

    /// <summary>Marks sessions revoked: one session, or every session of a user. Called for every AutoSignOut signal.</summary>
    /// <param name="issuer">The issuer the signal speaks for; <see langword="null"/>: any.</param>
    /// <param name="subject">The user, when every session of theirs was revoked.</param>
    /// <param name="sessionId">The session, when one was.</param>
    /// <param name="reason">Why.</param>
    public void MarkRevoked(string? issuer, string? subject, string? sessionId, string reason)
    {
        foreach (var entry in _sessions.Values)
        {
            if (entry.RevokedAt is null && (issuer is null || entry.Issuer == issuer)
                && (entry.SessionId == sessionId || (sessionId is null && entry.Subject == subject)))
            {
                _sessions[entry.SessionId] = entry with { RevokedAt = time.GetUtcNow(), Reason = reason };
            }
        }

        Changed?.Invoke();
    }

    /// <summary>The sessions, newest first.</summary>
    public IReadOnlyList<SessionEntry> List() => [.. _sessions.Values.OrderByDescending(s => s.SignedInAt)];
}

/// <summary>A signed-in session.</summary>
/// <param name="SessionId">The <c>sid</c>.</param>
/// <param name="Subject">The user id.</param>
/// <param name="Name">The display name.</param>
/// <param name="Method">How the user signed in: <c>local</c> or <c>oidc</c>.</param>
/// <param name="SignedInAt">When.</param>
/// <param name="RevokedAt">When it was revoked, if it was.</param>
public sealed record SessionEntry(string SessionId, string Subject, string Name, string Method, DateTimeOffset SignedInAt, DateTimeOffset? RevokedAt)
{
    /// <summary>The issuer of the session: the app's own for local sign-ins, the provider's otherwise.</summary>
    public string? Issuer { get; init; }

    /// <summary>Why it was revoked.</summary>
    public string? Reason { get; init; }
}
