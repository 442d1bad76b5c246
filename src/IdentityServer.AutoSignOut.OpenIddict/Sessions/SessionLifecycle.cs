using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>Starts sessions and judges their age: the rules shared by the cookie events, the token handlers and the expiry scan.</summary>
internal sealed class SessionLifecycle
{
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;
    private readonly TimeProvider _time;
    private readonly OpenIddictBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public SessionLifecycle(IOptionsMonitor<AutoSignOutOpenIddictOptions> options, TimeProvider time, OpenIddictBindingTelemetry telemetry, ILogger<SessionLifecycle> logger)
    {
        _options = options;
        _time = time;
        _telemetry = telemetry;
        _logger = logger;
    }

    public TimeProvider Time => _time;

    /// <summary>The user a principal names: its <c>sub</c>, else its name identifier (ASP.NET Core Identity's user id).</summary>
    public static string? SubjectOf(ClaimsPrincipal? principal) =>
        principal?.FindFirst("sub")?.Value is { Length: > 0 } sub ? sub
        : principal?.FindFirst(ClaimTypes.NameIdentifier)?.Value is { Length: > 0 } id ? id
        : null;

    public async ValueTask<string> StartAsync(IAutoSignOutSessionStore store, string subject, CancellationToken cancellationToken)
    {
        // 128 random bits: a sid is an unguessable handle, as it travels to every client.
        var sessionId = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(16));
        var now = _time.GetUtcNow();
        await store.CreateAsync(new IdentitySession(sessionId, subject, now, now, null, []), cancellationToken).ConfigureAwait(false);
        _telemetry.SessionsStarted.Add(1);
        _logger.SessionStarted(sessionId, subject);
        return sessionId;
    }

    /// <summary>Whether an active session has outlived its idle timeout or lifetime at <paramref name="now"/>.</summary>
    public bool IsExpired(IdentitySession session, DateTimeOffset now)
    {
        var options = _options.CurrentValue;
        return (options.SessionIdleTimeout is { } idle && session.LastActivityAt + idle <= now)
            || (options.SessionLifetime is { } lifetime && session.CreatedAt + lifetime <= now);
    }

    /// <summary>Records activity, at most once per a tenth of the idle timeout (and at most once a minute), to spare the store.</summary>
    public async ValueTask TouchAsync(IAutoSignOutSessionStore store, IdentitySession session, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var every = _options.CurrentValue.SessionIdleTimeout is { } idle ? TimeSpan.FromTicks(Math.Min(idle.Ticks / 10, TimeSpan.TicksPerMinute)) : TimeSpan.FromMinutes(1);
        if (now - session.LastActivityAt >= every)
        {
            await store.TouchAsync(session.SessionId, now, cancellationToken).ConfigureAwait(false);
        }
    }
}
