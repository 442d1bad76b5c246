using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.Duende.EntityFrameworkCore;

internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "OutboxTransaction", Level = LogLevel.Information, Message = "AutoSignOut notifications are written in the operational store's transaction: {Same} (false: the outbox is in another database, so they are written right after Duende's own write).")]
    public static partial void OutboxTransaction(this ILogger logger, bool same);
}
