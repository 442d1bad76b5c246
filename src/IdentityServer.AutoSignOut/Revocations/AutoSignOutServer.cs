using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>The default <see cref="IAutoSignOutServer"/>.</summary>
internal sealed class AutoSignOutServer : IAutoSignOutServer
{
    private readonly ILogoutRecipientSource _recipients;
    private readonly LogoutTokenFactory _tokens;
    private readonly LogoutDispatchSignal _signal;
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;
    private readonly TimeProvider _time;
    private readonly AutoSignOutServerTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly GroupCommit<LogoutNotification> _enqueue;
    private readonly IIssuedTokenIndex? _tokenIndex;

    public AutoSignOutServer(
        ILogoutRecipientSource recipients,
        LogoutTokenFactory tokens,
        ILogoutOutbox outbox,
        LogoutDispatchSignal signal,
        TimeProvider time,
        IOptionsMonitor<AutoSignOutServerOptions> options,
        AutoSignOutServerTelemetry telemetry,
        ILogger<AutoSignOutServer> logger,
        IIssuedTokenIndex? tokenIndex = null)
    {
        _recipients = recipients;
        _tokens = tokens;
        _signal = signal;
        _time = time;
        _options = options;
        _tokenIndex = tokenIndex;
        _telemetry = telemetry;
        _logger = logger;
        // Concurrent sign-outs share one outbox transaction; each caller still returns only once its rows are stored.
        _enqueue = new GroupCommit<LogoutNotification>(outbox.EnqueueAsync, maxBatch: 500);
    }

    public Task<int> SignOutEverywhereAsync(string subject, string reason = RevocationReasons.SignOutEverywhere, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(subject);
        return RevokeAsync(new Revocation { Subject = subject, Reason = reason }, cancellationToken);
    }

    public Task<int> SignOutSessionAsync(string sessionId, string reason = RevocationReasons.Logout, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sessionId);
        return RevokeAsync(new Revocation { SessionId = sessionId, Reason = reason }, cancellationToken);
    }

    public async Task<int> RevokeAsync(Revocation revocation, CancellationToken cancellationToken = default)
    {
        var notifications = await CreateNotificationsAsync(revocation, cancellationToken).ConfigureAwait(false);
        if (notifications.Count == 0)
        {
            return 0;
        }

        using var handOver = PrepareHandOver(notifications);

        // Not cancellable once queued: the batch may already be on its way to the database, and a stored row must
        // reach the dispatcher.
        await _enqueue.AddAsync(notifications).ConfigureAwait(false);
        handOver.Complete();
        return notifications.Count;
    }

    public LogoutHandOver PrepareHandOver(IReadOnlyList<LogoutNotification> notifications)
    {
        ArgumentNullException.ThrowIfNull(notifications);

        // Rows this instance will deliver itself are stored already leased to it and handed to the dispatcher in
        // memory: the happy path costs one write before delivery and none to find the rows again. Should this
        // process stop first, the lease runs out (or the instance reclaims it at restart) and the rows are delivered.
        var reserved = notifications.Count > 0 && _signal.TryReserve(notifications.Count);
        if (reserved)
        {
            var leaseId = Guid.NewGuid();
            var options = _options.CurrentValue;
            var leaseExpiresAt = _time.GetUtcNow() + options.LeaseDuration;
            foreach (var notification in notifications)
            {
                notification.LeaseId = leaseId;
                notification.LeaseExpiresAt = leaseExpiresAt;
                notification.LeaseOwner = options.InstanceName;
            }
        }

        return new LogoutHandOver(notifications, reserved, this);
    }

    /// <summary>The stored notifications go to the dispatcher: in memory when reserved, else through the outbox.</summary>
    internal void CompleteHandOver(IReadOnlyList<LogoutNotification> notifications, bool reserved)
    {
        if (notifications.Count == 0)
        {
            return;
        }

        _telemetry.Enqueued.Add(notifications.Count);
        _logger.NotificationsEnqueued(notifications.Count, notifications[0].Reason);
        if (reserved)
        {
            _signal.HandOver(notifications);
        }
        else
        {
            _signal.Notify();
        }
    }

    /// <summary>The notifications were not stored: their room in the dispatcher's memory is given back.</summary>
    internal void CancelHandOver(IReadOnlyList<LogoutNotification> notifications, bool reserved)
    {
        if (reserved)
        {
            _signal.CancelReservation(notifications.Count);
        }
    }

    public async Task<IReadOnlyList<LogoutNotification>> CreateNotificationsAsync(Revocation revocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(revocation);
        if (string.IsNullOrEmpty(revocation.Subject) && string.IsNullOrEmpty(revocation.SessionId))
        {
            throw new ArgumentException("A revocation needs a subject, a session id or both.", nameof(revocation));
        }

        // Checked here, for this caller alone, rather than failing a database batch shared with other sign-outs.
        RequireLength(revocation.Subject, LogoutNotification.MaxSubjectLength, "subject");
        RequireLength(revocation.SessionId, LogoutNotification.MaxSubjectLength, "session id");
        RequireLength(revocation.Reason, LogoutNotification.MaxReasonLength, "reason");
        if (string.IsNullOrEmpty(revocation.Reason))
        {
            throw new ArgumentException("A revocation needs a reason.", nameof(revocation));
        }

        var recipients = await _recipients.GetRecipientsAsync(revocation, cancellationToken).ConfigureAwait(false);
        var now = _time.GetUtcNow();
        // A revocation that names no tokens revokes the live ones of its session (or subject), when the binding
        // keeps a jti index: each client then hears the ids of its own tokens.
        var indexed = revocation.RevokedTokenIds.Count == 0 && _tokenIndex is not null
            ? await _tokenIndex.FindAsync(revocation.Subject, revocation.SessionId, now, cancellationToken).ConfigureAwait(false)
            : [];
        // A revocation that names its tokens: each client hears the ids the index knows as its own, plus any id the
        // index does not know (it cannot say whose it is, and a connection left open is worse than an extra id).
        Dictionary<string, string>? named = null;
        if (revocation.RevokedTokenIds.Count > 0 && _tokenIndex is not null)
        {
            var known = await _tokenIndex.FindByIdsAsync([.. revocation.RevokedTokenIds], cancellationToken).ConfigureAwait(false);
            named = known.ToDictionary(t => t.TokenId, t => t.ClientId, StringComparer.Ordinal);
        }
        var notifications = new List<LogoutNotification>(recipients.Count);
        var seen = new HashSet<(string, Uri, string?)>();
        foreach (var recipient in recipients)
        {
            if (revocation.ClientIds is { } only && !only.Contains(recipient.ClientId))
            {
                continue;
            }

            var sessionId = recipient.SessionId ?? revocation.SessionId;
            if (!seen.Add((recipient.ClientId, recipient.BackChannelLogoutUri, sessionId)))
            {
                continue;
            }

            if (recipient.RequiresSessionId && sessionId is null)
            {
                _logger.RecipientSkippedNoSessionId(recipient.ClientId);
                continue;
            }

            // Recipients from a binding are checked like configured ones: a URI that is not absolute http(s), or too
            // long to store, is never called.
            if (!EndpointRules.IsHttp(recipient.BackChannelLogoutUri) || recipient.BackChannelLogoutUri.AbsoluteUri.Length > LogoutNotification.MaxEndpointLength
                || string.IsNullOrEmpty(recipient.ClientId) || recipient.ClientId.Length > LogoutNotification.MaxClientIdLength
                || sessionId?.Length > LogoutNotification.MaxSubjectLength)
            {
                _logger.RecipientRefused(recipient.ClientId.Length > 40 ? recipient.ClientId[..40] : recipient.ClientId, "not an absolute http(s) URI, or a value too long to store");
                continue;
            }

            var notification = new LogoutNotification
            {
                Id = Guid.CreateVersion7(now),
                ClientId = recipient.ClientId,
                Endpoint = recipient.BackChannelLogoutUri,
                Subject = string.IsNullOrEmpty(revocation.Subject) ? null : revocation.Subject,
                SessionId = sessionId,
                Reason = revocation.Reason,
                RevokedTokenIds = named is not null
                    ? [.. revocation.RevokedTokenIds.Where(id => !named.TryGetValue(id, out var owner) || owner == recipient.ClientId)]
                    : indexed.Count == 0
                    ? revocation.RevokedTokenIds
                    : [.. indexed.Where(t => t.ClientId == recipient.ClientId && (sessionId is null || t.SessionId is null || t.SessionId == sessionId)).Select(t => t.TokenId)],
                CreatedAt = now,
                NextAttemptAt = now,
                State = LogoutNotificationState.Pending,
            };
            var token = await _tokens.CreateAsync(notification, cancellationToken).ConfigureAwait(false);
            notification.LogoutToken = token.Token;
            notification.LogoutTokenExpiresAt = token.ExpiresAt;
            notifications.Add(notification);
        }

        return notifications;
    }

    private static void RequireLength(string? value, int max, string what)
    {
        if (value?.Length > max)
        {
            throw new ArgumentException($"The revocation's {what} is longer than {max} characters.", "revocation");
        }
    }
}
