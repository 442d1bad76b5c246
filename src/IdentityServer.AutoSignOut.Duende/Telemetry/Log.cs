using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "RevocationNotified", Level = LogLevel.Debug, Message = "Revocation ({Reason}) handed to the engine: {Count} notification(s).")]
    public static partial void RevocationNotified(this ILogger logger, string reason, int count);

    [LoggerMessage(EventId = 2, EventName = "NotificationEnqueueFailed", Level = LogLevel.Error, Message = "A revocation ({Reason}) happened at IdentityServer but its logout notifications could not be stored; retried in the background: {Retried}.")]
    public static partial void NotificationEnqueueFailed(this ILogger logger, Exception exception, string reason, bool retried);

    [LoggerMessage(EventId = 3, EventName = "InvalidBackChannelLogoutUri", Level = LogLevel.Warning, Message = "Client {ClientId} has a BackChannelLogoutUri that is not an absolute http(s) URI; it is not notified.")]
    public static partial void InvalidBackChannelLogoutUri(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 4, EventName = "ClientWithoutBackChannelLogout", Level = LogLevel.Debug, Message = "Client {ClientId} has no BackChannelLogoutUri; it is not notified.")]
    public static partial void ClientWithoutBackChannelLogout(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 5, EventName = "AccessTokenIndexFailed", Level = LogLevel.Error, Message = "An issued access token could not be recorded in the jti index; a later revocation will not name it.")]
    public static partial void AccessTokenIndexFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "GrantReadFailed", Level = LogLevel.Error, Message = "A grant about to be removed could not be read; its removal notifies nobody.")]
    public static partial void GrantReadFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 7, EventName = "NotificationStoredOnRetry", Level = LogLevel.Information, Message = "The logout notifications of a revocation ({Reason}) were stored on retry {Attempt}: {Count} notification(s).")]
    public static partial void NotificationStoredOnRetry(this ILogger logger, string reason, int count, int attempt);

    [LoggerMessage(EventId = 8, EventName = "NotificationRetryFailed", Level = LogLevel.Warning, Message = "Storing the logout notifications of a revocation ({Reason}) failed again (retry {Attempt}); trying later.")]
    public static partial void NotificationRetryFailed(this ILogger logger, Exception exception, string reason, int attempt);

    [LoggerMessage(EventId = 9, EventName = "NotificationRetryAbandoned", Level = LogLevel.Error, Message = "Gave up storing the logout notifications of a revocation ({Reason}) after {Attempt} retries: its clients are not told.")]
    public static partial void NotificationRetryAbandoned(this ILogger logger, Exception exception, string reason, int attempt);

    [LoggerMessage(EventId = 10, EventName = "NotificationRetryQueueFull", Level = LogLevel.Error, Message = "A revocation ({Reason}) whose logout notifications could not be stored cannot wait for a retry: {Capacity} already wait. Its clients are not told.")]
    public static partial void NotificationRetryQueueFull(this ILogger logger, string reason, int capacity);

    [LoggerMessage(EventId = 11, EventName = "NotificationRetriesLeftAtStop", Level = LogLevel.Error, Message = "The host stopped with {Count} revocation(s) whose logout notifications were still waiting to be stored: their clients are not told.")]
    public static partial void NotificationRetriesLeftAtStop(this ILogger logger, int count);

    [LoggerMessage(EventId = 12, EventName = "SharedTransactionFailedAfterSessionEnded", Level = LogLevel.Warning, Message = "The transaction shared with IdentityServer's writes failed after IdentityServer had ended the session; the revocation is finished without it.")]
    public static partial void SharedTransactionFailedAfterSessionEnded(this ILogger logger, Exception exception);
}
