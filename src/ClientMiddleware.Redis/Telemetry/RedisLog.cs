using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>The Redis link's log messages, with stable event ids (5xxx). Session ids and subjects never appear.</summary>
internal static partial class RedisLog
{
    [LoggerMessage(5001, LogLevel.Information, "Connected to Redis; this node reads the sign-out stream '{Stream}'.", EventName = "RedisConnected")]
    public static partial void Connected(ILogger logger, string stream);

    [LoggerMessage(5002, LogLevel.Warning, "Redis {Operation} failed (failure {Failures}); this node answers from its local revoked set and retries in {Backoff}.", EventName = "RedisOperationFailed")]
    public static partial void OperationFailed(ILogger logger, Exception exception, string operation, int failures, TimeSpan backoff);

    [LoggerMessage(5003, LogLevel.Information, "Caught up with the sign-out stream: {Count} entr(ies) applied, last id {LastId}.", EventName = "RedisCaughtUp")]
    public static partial void CaughtUp(ILogger logger, int count, string lastId);

    [LoggerMessage(5004, LogLevel.Warning, "Skipped stream entry {EntryId}: {Reason}. It revokes nothing and un-revokes nothing.", EventName = "RedisEntrySkipped")]
    public static partial void EntrySkipped(ILogger logger, string entryId, SkipReason reason);

    [LoggerMessage(5005, LogLevel.Error, "A sign-out signal was applied on this node but could not be published to Redis; it is queued ({Pending} pending) and published once Redis is back.", EventName = "RedisPublishFailed")]
    public static partial void PublishFailed(ILogger logger, Exception exception, int pending);

    [LoggerMessage(5006, LogLevel.Information, "Published {Count} queued sign-out signal(s) to Redis.", EventName = "RedisPendingPublished")]
    public static partial void PendingPublished(ILogger logger, int count);

    [LoggerMessage(5007, LogLevel.Error, "The pending queue is full ({Max}); the oldest unpublished signal was dropped: other nodes will not learn it from this node.", EventName = "RedisPendingDropped")]
    public static partial void PendingDropped(ILogger logger, int max);

    [LoggerMessage(5008, LogLevel.Error, "Applying stream entry {EntryId} failed; the entry is skipped.", EventName = "RedisApplyFailed")]
    public static partial void ApplyFailed(ILogger logger, Exception exception, string entryId);

    [LoggerMessage(5009, LogLevel.Warning, "The logout-token replay cache could not reach Redis ({Operation}); this node's own record is used.", EventName = "RedisReplayCacheFailed")]
    public static partial void ReplayCacheFailed(ILogger logger, Exception exception, string operation);

    [LoggerMessage(5010, LogLevel.Warning, "Lost the connection to Redis ({FailureType}); this node answers from its local revoked set and catches up on reconnect.", EventName = "RedisDisconnected")]
    public static partial void Disconnected(ILogger logger, string failureType);
}
