using System.Text.Json;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

internal static class LogoutOutboxEntryMapper
{
    public const int MaxLeaseOwnerLength = 200;

    public static LogoutOutboxEntry ToEntry(LogoutNotification n) => new()
    {
        Id = n.Id,
        ClientId = n.ClientId,
        Endpoint = n.Endpoint.AbsoluteUri,
        Subject = n.Subject,
        SessionId = n.SessionId,
        Reason = n.Reason,
        RevokedTokenIds = n.RevokedTokenIds.Count == 0 ? null : JsonSerializer.Serialize(n.RevokedTokenIds),
        LogoutToken = n.LogoutToken,
        LogoutTokenExpiresAt = n.LogoutTokenExpiresAt?.ToUnixTimeMilliseconds(),
        CreatedAt = n.CreatedAt.ToUnixTimeMilliseconds(),
        NextAttemptAt = n.NextAttemptAt.ToUnixTimeMilliseconds(),
        Attempts = n.Attempts,
        LastError = Truncate(n.LastError, 1000),
        State = (int)n.State,
        LeaseId = n.LeaseId,
        LeaseExpiresAt = n.LeaseExpiresAt?.ToUnixTimeMilliseconds(),
        LeaseOwner = Truncate(n.LeaseOwner, MaxLeaseOwnerLength),
        FailedDispatches = n.FailedDispatches,
        TokenRejections = n.TokenRejections,
    };

    public static LogoutNotification ToNotification(LogoutOutboxEntry e) => new()
    {
        Id = e.Id,
        ClientId = e.ClientId,
        Endpoint = new Uri(e.Endpoint, UriKind.Absolute),
        Subject = e.Subject,
        SessionId = e.SessionId,
        Reason = e.Reason,
        RevokedTokenIds = e.RevokedTokenIds is null ? [] : JsonSerializer.Deserialize<string[]>(e.RevokedTokenIds) ?? [],
        LogoutToken = e.LogoutToken,
        LogoutTokenExpiresAt = e.LogoutTokenExpiresAt is { } exp ? DateTimeOffset.FromUnixTimeMilliseconds(exp) : null,
        CreatedAt = DateTimeOffset.FromUnixTimeMilliseconds(e.CreatedAt),
        NextAttemptAt = DateTimeOffset.FromUnixTimeMilliseconds(e.NextAttemptAt),
        Attempts = e.Attempts,
        LastError = e.LastError,
        State = (LogoutNotificationState)e.State,
        LeaseId = e.LeaseId,
        LeaseExpiresAt = e.LeaseExpiresAt is { } lease ? DateTimeOffset.FromUnixTimeMilliseconds(lease) : null,
        LeaseOwner = e.LeaseOwner,
        FailedDispatches = e.FailedDispatches,
        TokenRejections = e.TokenRejections,
    };

    public static string? Truncate(string? value, int max) => value is null || value.Length <= max ? value : value[..max];
}
