using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "RevocationNotified", Level = LogLevel.Debug, Message = "Revocation ({Reason}) handed to the engine: {Count} notification(s).")]
    public static partial void RevocationNotified(this ILogger logger, string reason, int count);

    [LoggerMessage(EventId = 2, EventName = "NotificationEnqueueFailed", Level = LogLevel.Error, Message = "A revocation ({Reason}) happened at IdentityServer but its logout notifications could not be stored.")]
    public static partial void NotificationEnqueueFailed(this ILogger logger, Exception exception, string reason);

    [LoggerMessage(EventId = 3, EventName = "InvalidBackChannelLogoutUri", Level = LogLevel.Warning, Message = "Client {ClientId} has a BackChannelLogoutUri that is not an absolute http(s) URI; it is not notified.")]
    public static partial void InvalidBackChannelLogoutUri(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 4, EventName = "ClientWithoutBackChannelLogout", Level = LogLevel.Debug, Message = "Client {ClientId} has no BackChannelLogoutUri; it is not notified.")]
    public static partial void ClientWithoutBackChannelLogout(this ILogger logger, string clientId);

    [LoggerMessage(EventId = 5, EventName = "AccessTokenIndexFailed", Level = LogLevel.Error, Message = "An issued access token could not be recorded in the jti index; a later revocation will not name it.")]
    public static partial void AccessTokenIndexFailed(this ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6, EventName = "GrantReadFailed", Level = LogLevel.Error, Message = "A grant about to be removed could not be read; its removal notifies nobody.")]
    public static partial void GrantReadFailed(this ILogger logger, Exception exception);
}
