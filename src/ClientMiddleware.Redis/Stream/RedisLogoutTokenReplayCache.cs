using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>
/// The cluster-wide replay cache: a logout token's <c>jti</c> is a Redis key (<c>SET NX</c> with the token's remaining
/// lifetime), so the same token posted to another node is refused. This node's own record is kept too, and answers
/// while Redis is unavailable: a replay then reaching another node applies the same revocation again, which closes
/// nothing new (a revocation covers only credentials issued before the token).
/// </summary>
internal sealed class RedisLogoutTokenReplayCache(
    ILogoutTokenReplayCache local,
    RedisConnection connection,
    RedisMetrics metrics,
    IOptions<AutoSignOutRedisOptions> options,
    TimeProvider time,
    ILogger<RedisLogoutTokenReplayCache> logger) : ILogoutTokenReplayCache
{
    private readonly TimeSpan _timeout = options.Value.OperationTimeout;

    public async ValueTask<bool> ContainsAsync(string issuer, string tokenId, CancellationToken cancellationToken = default)
    {
        if (await local.ContainsAsync(issuer, tokenId, cancellationToken))
        {
            return true;
        }

        try
        {
            var multiplexer = await connection.GetAsync(cancellationToken).AsTask().WaitAsync(_timeout, time, cancellationToken);
            return await multiplexer.GetDatabase().KeyExistsAsync(KeyOf(issuer, tokenId)).WaitAsync(_timeout, time, cancellationToken);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            metrics.Failed("replay_check");
            RedisLog.ReplayCacheFailed(logger, e, "check");
            return false;
        }
    }

    public async ValueTask<bool> TryAddAsync(string issuer, string tokenId, DateTimeOffset expiresAt, CancellationToken cancellationToken = default)
    {
        var added = await local.TryAddAsync(issuer, tokenId, expiresAt, cancellationToken);
        var ttl = expiresAt - time.GetUtcNow();
        if (ttl <= TimeSpan.Zero)
        {
            return added;
        }

        try
        {
            var multiplexer = await connection.GetAsync(cancellationToken).AsTask().WaitAsync(_timeout, time, cancellationToken);
            var set = await multiplexer.GetDatabase().StringSetAsync(KeyOf(issuer, tokenId), 1, ttl, When.NotExists).WaitAsync(_timeout, time, cancellationToken);
            return added && set;
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            metrics.Failed("replay_record");
            RedisLog.ReplayCacheFailed(logger, e, "record");
            return added;
        }
    }

    /// <summary>A bounded key whatever the issuer and <c>jti</c>: the SHA-256 of both.</summary>
    private RedisKey KeyOf(string issuer, string tokenId)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(issuer + "\n" + tokenId));
        return connection.ReplayKeyPrefix + Convert.ToHexStringLower(hash);
    }
}
