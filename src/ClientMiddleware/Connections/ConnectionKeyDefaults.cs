using System.Security.Claims;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The default mapping of principals and signals to <see cref="ConnectionKey"/>s: <c>sid:{sid}</c>,
/// <c>sub:{sub}</c> and <c>jti:{jti}</c>. Both sides use the same claims, so they agree by construction.
/// </summary>
public static class ConnectionKeyDefaults
{
    /// <summary>
    /// Returns the keys of a principal: its session id, subject and token id where present. Claims are read
    /// under their JWT names and under the names the ASP.NET Core handlers map them to by default.
    /// </summary>
    /// <param name="principal">The authenticated principal of a connection.</param>
    public static IReadOnlyList<ConnectionKey> FromPrincipal(ClaimsPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var sid = SessionClaims.FindSessionId(principal)?.Value;
        var sub = SessionClaims.FindSubject(principal)?.Value;
        var jti = principal.FindFirst(ConnectionKey.TokenType)?.Value;
        var count = (sid is null ? 0 : 1) + (sub is null ? 0 : 1) + (jti is null ? 0 : 1);
        if (count == 0)
        {
            return [];
        }

        var keys = new ConnectionKey[count];
        var i = 0;
        if (sid is not null)
        {
            keys[i++] = ConnectionKey.Session(sid);
        }

        if (sub is not null)
        {
            keys[i++] = ConnectionKey.Subject(sub);
        }

        if (jti is not null)
        {
            keys[i] = ConnectionKey.Token(jti);
        }

        return keys;
    }

    /// <summary>
    /// Returns the keys a signal closes: its session when it names one (OIDC Back-Channel Logout §2.7: a
    /// token with a <c>sid</c> logs out that session only), otherwise all of its subject's sessions; plus every
    /// revoked token id.
    /// </summary>
    /// <param name="signal">The sign-out signal.</param>
    public static IReadOnlyList<ConnectionKey> FromSignal(SignOutSignal signal)
    {
        ArgumentNullException.ThrowIfNull(signal);
        var keys = new List<ConnectionKey>(1 + signal.TokenIds.Count);
        if (!string.IsNullOrEmpty(signal.SessionId))
        {
            keys.Add(ConnectionKey.Session(signal.SessionId));
        }
        else if (!string.IsNullOrEmpty(signal.Subject))
        {
            keys.Add(ConnectionKey.Subject(signal.Subject));
        }

        foreach (var jti in signal.TokenIds)
        {
            if (!string.IsNullOrEmpty(jti))
            {
                keys.Add(ConnectionKey.Token(jti));
            }
        }

        return keys;
    }
}
