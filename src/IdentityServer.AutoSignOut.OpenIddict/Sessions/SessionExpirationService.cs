using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Ends IdP sessions that outlived <see cref="AutoSignOutOpenIddictOptions.SessionIdleTimeout"/> or
/// <see cref="AutoSignOutOpenIddictOptions.SessionLifetime"/> (their clients are notified with the reason
/// <see cref="RevocationReasons.SessionEnded"/>) and deletes sessions ended longer ago than the retention. A failed
/// round is logged, counted and retried at the next scan.
/// </summary>
internal sealed class SessionExpirationService : BackgroundService
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;
    private readonly TimeProvider _time;
    private readonly OpenIddictBindingTelemetry _telemetry;
    private readonly ILogger _logger;

    public SessionExpirationService(IServiceScopeFactory scopes, IOptionsMonitor<AutoSignOutOpenIddictOptions> options, TimeProvider time, OpenIddictBindingTelemetry telemetry, ILogger<SessionExpirationService> logger)
    {
        _scopes = scopes;
        _options = options;
        _time = time;
        _telemetry = telemetry;
        _logger = logger;
    }

    /// <summary>Runs one scan: ends the expired sessions found (in batches), then purges old ended ones.</summary>
    public async Task<int> ScanAsync(CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var ended = 0;
        if (options.SessionIdleTimeout is not null || options.SessionLifetime is not null)
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await using var scope = _scopes.CreateAsyncScope();
                var store = scope.ServiceProvider.GetRequiredService<IAutoSignOutSessionStore>();
                var now = _time.GetUtcNow();
                var expired = await store.FindExpiredAsync(now - options.SessionIdleTimeout, now - options.SessionLifetime, options.SessionExpirationBatchSize, cancellationToken).ConfigureAwait(false);
                var service = scope.ServiceProvider.GetRequiredService<IAutoSignOutSessionService>();
                foreach (var sessionId in expired)
                {
                    if (await service.EndSessionAsync(sessionId, RevocationReasons.SessionEnded, cancellationToken).ConfigureAwait(false))
                    {
                        ended++;
                    }
                }

                if (expired.Count < options.SessionExpirationBatchSize)
                {
                    break;
                }
            }
        }

        await using (var scope = _scopes.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<IAutoSignOutSessionStore>()
                .RemoveEndedAsync(_time.GetUtcNow() - options.EndedSessionRetention, cancellationToken).ConfigureAwait(false);
        }

        return ended;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ScanAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                _telemetry.Failures.Add(1, new KeyValuePair<string, object?>("stage", "session_expiration"));
                _logger.SessionExpirationFailed(exception);
            }

            try
            {
                await Task.Delay(_options.CurrentValue.SessionExpirationScanInterval, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
