using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer;

internal static partial class LoggingExtensions
{
    [LoggerMessage(1, LogLevel.Debug, "Enqueued {Count} logout notifications for reason {Reason}.", EventName = "NotificationsEnqueued")]
    public static partial void NotificationsEnqueued(this ILogger logger, int count, string reason);

    [LoggerMessage(2, LogLevel.Information, "Client {ClientId} requires a session id but the revocation has none; it is not notified.", EventName = "RecipientSkippedNoSessionId")]
    public static partial void RecipientSkippedNoSessionId(this ILogger logger, string clientId);

    [LoggerMessage(3, LogLevel.Debug, "Delivered logout notification {NotificationId} to client {ClientId} after {Attempts} attempts.", EventName = "NotificationDelivered")]
    public static partial void NotificationDelivered(this ILogger logger, Guid notificationId, string clientId, int attempts);

    [LoggerMessage(4, LogLevel.Warning, "Logout notification {NotificationId} to client {ClientId} at {Endpoint} failed (attempt {Attempts}): {Error}. Next attempt at {NextAttemptAt:o}.", EventName = "NotificationRescheduled")]
    public static partial void NotificationRescheduled(this ILogger logger, Guid notificationId, string clientId, Uri endpoint, int attempts, string error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(5, LogLevel.Error, "Logout notification {NotificationId} to client {ClientId} at {Endpoint} is dead-lettered after {Attempts} attempts over the retry horizon: {Error}.", EventName = "NotificationDeadLettered")]
    public static partial void NotificationDeadLettered(this ILogger logger, Guid notificationId, string clientId, Uri endpoint, int attempts, string error);

    [LoggerMessage(6, LogLevel.Error, "The logout outbox could not be read; the dispatcher tries again in {Delay}.", EventName = "OutboxUnavailable")]
    public static partial void OutboxUnavailable(this ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(7, LogLevel.Error, "The outcome of logout notification {NotificationId} could not be written; its lease will run out and it will be tried again.", EventName = "OutcomeNotWritten")]
    public static partial void OutcomeNotWritten(this ILogger logger, Exception exception, Guid notificationId);

    [LoggerMessage(8, LogLevel.Information, "Logout dispatcher {InstanceName} started.", EventName = "DispatcherStarted")]
    public static partial void DispatcherStarted(this ILogger logger, string instanceName);
}
