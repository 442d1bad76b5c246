using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.OpenIddict;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "SessionStarted", Level = LogLevel.Debug, Message = "IdP session {SessionId} started for subject {Subject}.")]
    public static partial void SessionStarted(this ILogger logger, string sessionId, string subject);

    [LoggerMessage(EventId = 2, EventName = "SessionEnded", Level = LogLevel.Information, Message = "An IdP session ended ({Reason}); {Notifications} revocation(s) to notify.")]
    public static partial void SessionEnded(this ILogger logger, string reason, int notifications);

    [LoggerMessage(EventId = 3, EventName = "RevocationNotified", Level = LogLevel.Debug, Message = "Revocation ({Reason}) handed to the engine: {Count} notification(s).")]
    public static partial void RevocationNotified(this ILogger logger, string reason, int count);

    [LoggerMessage(EventId = 4, EventName = "NotificationEnqueueFailed", Level = LogLevel.Error, Message = "A revocation ({Reason}) happened at the IdP but its logout notifications could not be stored.")]
    public static partial void NotificationEnqueueFailed(this ILogger logger, Exception exception, string reason);

    [LoggerMessage(EventId = 5, EventName = "ClientWithoutBackChannelLogout", Level = LogLevel.Debug, Message = "Client {ClientId} has no back-channel logout URI; it is not notified.")]
    public static partial void ClientWithoutBackChannelLogout(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 6, EventName = "EndedSessionRefused", Level = LogLevel.Information, Message = "A token request of an ended IdP session was refused (client {ClientId}).")]
    public static partial void EndedSessionRefused(this ILogger logger, string? clientId);

    [LoggerMessage(EventId = 7, EventName = "SessionExpirationFailed", Level = LogLevel.Error, Message = "Ending expired IdP sessions failed; the next scan retries.")]
    public static partial void SessionExpirationFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 8, EventName = "AccessTokenNotIndexed", Level = LogLevel.Debug, Message = "An access token of client {ClientId} was not recorded in the jti index: {Why}.")]
    public static partial void AccessTokenNotIndexed(this ILogger logger, string? clientId, string why);

    [LoggerMessage(EventId = 9, EventName = "InvalidBackChannelLogoutUri", Level = LogLevel.Warning, Message = "Client {ClientId} has a back-channel logout URI that is not an absolute http(s) URI; it is not notified.")]
    public static partial void InvalidBackChannelLogoutUri(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 10, EventName = "EndedSessionCookieRefused", Level = LogLevel.Debug, Message = "The IdP cookie of an ended or expired session was refused.")]
    public static partial void EndedSessionCookieRefused(this ILogger logger);

    [LoggerMessage(EventId = 11, EventName = "AccessTokenIndexFailed", Level = LogLevel.Error, Message = "An issued access token could not be recorded in the jti index; a later revocation will not name it.")]
    public static partial void AccessTokenIndexFailed(this ILogger logger, Exception exception);
}
