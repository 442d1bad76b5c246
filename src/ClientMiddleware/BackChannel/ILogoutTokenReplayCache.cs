namespace AutoSignOut.AspNetCore;

/// <summary>
/// Remembers the <c>jti</c>s of accepted logout tokens for their lifetime, so a replayed token is refused
/// (OIDC Back-Channel Logout 1.0 §2.6, step 9). A <c>jti</c> is recorded only after its signal took effect, so a
/// token whose effect failed can be retried by the provider.
/// </summary>
public interface ILogoutTokenReplayCache
{
    /// <summary>Whether <paramref name="tokenId"/> of <paramref name="issuer"/> was recorded and has not expired.</summary>
    /// <param name="issuer">The token's issuer.</param>
    /// <param name="tokenId">The token's <c>jti</c>.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> ContainsAsync(string issuer, string tokenId, CancellationToken cancellationToken = default);

    /// <summary>
    /// Records <paramref name="tokenId"/> of <paramref name="issuer"/> until <paramref name="expiresAt"/>.
    /// Returns <see langword="false"/> when it was already recorded and has not expired: the token is a replay.
    /// </summary>
    /// <param name="issuer">The token's issuer.</param>
    /// <param name="tokenId">The token's <c>jti</c>.</param>
    /// <param name="expiresAt">Until when to remember it: the token's <c>exp</c> plus the clock skew.</param>
    /// <param name="cancellationToken">Cancels the operation.</param>
    ValueTask<bool> TryAddAsync(string issuer, string tokenId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default);
}
