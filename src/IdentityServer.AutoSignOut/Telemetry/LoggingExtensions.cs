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
    public static partial void NotificationRescheduled(this ILogger logger, Guid notificationId, string clientId, string endpoint, int attempts, string error, DateTimeOffset nextAttemptAt);

    [LoggerMessage(5, LogLevel.Error, "Logout notification {NotificationId} to client {ClientId} at {Endpoint} is dead-lettered after {Attempts} attempts: {Error}.", EventName = "NotificationDeadLettered")]
    public static partial void NotificationDeadLettered(this ILogger logger, Guid notificationId, string clientId, string endpoint, int attempts, string error);

    [LoggerMessage(6, LogLevel.Error, "The logout outbox could not be read; the dispatcher tries again in {Delay}.", EventName = "OutboxUnavailable")]
    public static partial void OutboxUnavailable(this ILogger logger, Exception exception, TimeSpan delay);

    [LoggerMessage(7, LogLevel.Error, "The outcome of logout notification {NotificationId} could not be written; its lease will run out and it will be tried again.", EventName = "OutcomeNotWritten")]
    public static partial void OutcomeNotWritten(this ILogger logger, Exception exception, Guid notificationId);

    [LoggerMessage(8, LogLevel.Information, "Logout dispatcher {InstanceName} started.", EventName = "DispatcherStarted")]
    public static partial void DispatcherStarted(this ILogger logger, string instanceName);

    [LoggerMessage(9, LogLevel.Debug, "Logout notification {NotificationId} to client {ClientId} at {Endpoint} waits for the endpoint's circuit to close; next attempt at {NextAttemptAt:o}.", EventName = "NotificationDeferred")]
    public static partial void NotificationDeferred(this ILogger logger, Guid notificationId, string clientId, string endpoint, DateTimeOffset nextAttemptAt);

    [LoggerMessage(10, LogLevel.Debug, "Client {ClientId} refused logout notification {NotificationId} saying: {Detail}", EventName = "EndpointSaid")]
    public static partial void EndpointSaid(this ILogger logger, Guid notificationId, string clientId, string detail);

    [LoggerMessage(11, LogLevel.Error, "The delivery of logout notification {NotificationId} failed unexpectedly; its lease will run out and it will be tried again.", EventName = "DeliveryFaulted")]
    public static partial void DeliveryFaulted(this ILogger logger, Exception exception, Guid notificationId);

    [LoggerMessage(12, LogLevel.Error, "Client {ClientId}'s back-channel logout URI cannot be used ({Problem}); it is not notified.", EventName = "RecipientRefused")]
    public static partial void RecipientRefused(this ILogger logger, string clientId, string problem);

    [LoggerMessage(13, LogLevel.Information, "Took back {Count} logout notifications leased by an earlier run of instance {InstanceName}.", EventName = "LeasesReclaimed")]
    public static partial void LeasesReclaimed(this ILogger logger, int count, string instanceName);

    [LoggerMessage(14, LogLevel.Error, "Outbox housekeeping failed; it tries again later.", EventName = "HousekeepingFailed")]
    public static partial void HousekeepingFailed(this ILogger logger, Exception exception);

    [LoggerMessage(15, LogLevel.Debug, "Logout notification {NotificationId} waits for a delivery slot of its endpoint {Endpoint}.", EventName = "NotificationQueuedForEndpoint")]
    public static partial void NotificationQueuedForEndpoint(this ILogger logger, Guid notificationId, string endpoint);

    [LoggerMessage(16, LogLevel.Information, "The circuit of {Endpoint} is open: {Count} pending logout notifications to it wait until {Until:o}.", EventName = "EndpointPostponed")]
    public static partial void EndpointPostponed(this ILogger logger, string endpoint, int count, DateTimeOffset until);

    [LoggerMessage(17, LogLevel.Warning, "Could not postpone the pending logout notifications to {Endpoint}; they are held back one by one.", EventName = "EndpointPostponeFailed")]
    public static partial void EndpointPostponeFailed(this ILogger logger, Exception exception, string endpoint);
}
