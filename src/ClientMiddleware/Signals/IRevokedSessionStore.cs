namespace AutoSignOut.AspNetCore;

/// <summary>
/// The revoked sessions, users and tokens a node refuses: a cookie, bearer token, hub invocation, circuit event or
/// reconnect whose keys match an entry, and whose credentials were issued no later than it (compared on the clock the
/// credential's time was read on; see <see cref="RevocationTime"/>), is refused. A revoked <c>jti</c> key is refused
/// whatever the credential's age. Entries expire, so the set stays bounded.
/// </summary>
/// <remarks>
/// <see cref="IsRevoked"/> runs on every authenticated request and hub invocation, so it is synchronous:
/// a shared implementation keeps a local view and updates it in the background, and says through
/// <see cref="WaitUntilCurrentAsync"/> when that view may be behind.
/// </remarks>
public interface IRevokedSessionStore
{
    /// <summary>Records that the sessions under <paramref name="keys"/> were revoked at <paramref name="revokedAt"/>.</summary>
    /// <param name="issuer">The issuer the revocation speaks for, or <see langword="null"/> for any issuer.</param>
    /// <param name="keys">The revoked keys.</param>
    /// <param name="revokedAt">When; credentials issued at or before it are refused. A later revocation of the same key extends it.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt, CancellationToken cancellationToken = default);

    /// <summary>Whether credentials with these keys, issued by <paramref name="issuer"/> at <paramref name="issuedAt"/>, are revoked.</summary>
    /// <param name="issuer">The issuer of the credentials' session.</param>
    /// <param name="keys">The keys of the credentials' principal.</param>
    /// <param name="issuedAt">When the credentials were issued; <see cref="IssueTime.Unknown"/> counts as old.</param>
    bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt);

    /// <summary>
    /// Waits, for a bounded time the store chooses, until this node's view holds every revocation published before the
    /// call. The authentication of credentials that <see cref="IsRevoked"/> let through calls it, then asks again:
    /// <see langword="true"/> means the answer is now current; <see langword="false"/> that it cannot be (a shared store
    /// still catching up), and the credentials are refused for this request without being ended (a cookie is not
    /// cleared), so they work again once the view is current. Default: <see langword="true"/> at once, for a store that
    /// is always current, such as the in-process one.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait (the request went away).</param>
    ValueTask<bool> WaitUntilCurrentAsync(CancellationToken cancellationToken = default) => new(true);
}
