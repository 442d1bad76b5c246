namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// The in-memory revoked set, fed by the stream, and the link's state: <see cref="IsRevoked"/> never calls Redis, and
/// <see cref="WaitUntilCurrentAsync"/> holds authentications while the node catches up (see <see cref="RedisLinkState"/>).
/// </summary>
internal sealed class RedisRevokedSessionStore(IRevokedSessionStore local, RedisLinkState state) : IRevokedSessionStore
{
    public ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt, CancellationToken cancellationToken = default) =>
        local.RevokeAsync(issuer, keys, revokedAt, cancellationToken);

    public bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt) => local.IsRevoked(issuer, keys, issuedAt);

    public ValueTask<bool> WaitUntilCurrentAsync(CancellationToken cancellationToken = default) => state.WaitUntilCurrentAsync(cancellationToken);
}
