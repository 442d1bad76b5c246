using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Delivers one leased notification: runs the endpoint's resilience pipeline around "mint if needed, POST", then
/// writes the outcome (delivered, rescheduled or dead-lettered) back to the outbox.
/// </summary>
/// <remarks>
/// Polly's retry wraps the minting as well as the POST, so every attempt carries a fresh <c>jti</c>; that is why the
/// pipeline is built here over <see cref="HttpClient"/> rather than as an HTTP resilience handler, which would
/// resend the same request.
/// </remarks>
internal sealed class LogoutDeliverer : IDisposable
{
    private const string CircuitOpen = "the endpoint's circuit is open after repeated failures";

    private readonly ILogoutOutbox _outbox;
    private readonly LogoutTokenFactory _tokens;
    private readonly IHttpClientFactory _httpClients;
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;
    private readonly TimeProvider _time;
    private readonly AutoSignOutServerTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly LogoutDispatchSignal _signal;
    private readonly ResiliencePipelineRegistry<string> _pipelines;
    private readonly GroupCommit<LogoutNotification> _completions;

    public LogoutDeliverer(
        ILogoutOutbox outbox,
        LogoutTokenFactory tokens,
        IHttpClientFactory httpClients,
        IOptionsMonitor<AutoSignOutServerOptions> options,
        TimeProvider time,
        AutoSignOutServerTelemetry telemetry,
        LogoutDispatchSignal signal,
        ILogger<LogoutDeliverer> logger)
    {
        _outbox = outbox;
        _tokens = tokens;
        _httpClients = httpClients;
        _options = options;
        _time = time;
        _telemetry = telemetry;
        _logger = logger;
        _signal = signal;
        _pipelines = new ResiliencePipelineRegistry<string>();
        _completions = new GroupCommit<LogoutNotification>(outbox.CompleteAsync, maxBatch: 500);
    }

    public async Task DeliverAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        var pipeline = _pipelines.GetOrAddPipeline<HttpResponseMessage>(notification.Endpoint.AbsoluteUri, builder => Configure(builder, options));
        var http = _httpClients.CreateClient(AutoSignOutServerDefaults.HttpClientName);
        var attempts = 0;
        string? error = null;
        try
        {
            using var response = await pipeline.ExecuteAsync(
                async token =>
                {
                    attempts++;
                    return await SendAsync(http, notification, notification.Attempts + attempts, token).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                notification.Attempts += attempts;
                await CompleteAsync(notification).ConfigureAwait(false);
                return;
            }

            error = await DescribeAsync(response, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The host is stopping: give the row back at once rather than leaving it leased until the lease runs out.
            notification.Attempts += Math.Max(0, attempts - 1);
            notification.NextAttemptAt = _time.GetUtcNow();
            notification.LogoutToken = null;
            await WriteOutcomeAsync(notification, _outbox.RescheduleAsync).ConfigureAwait(false);
            _signal.Notify();
            return;
        }
        catch (BrokenCircuitException)
        {
            // Keep the cause in sight: "circuit open" alone would hide why the endpoint failed.
            error = notification.LastError is { } cause && !cause.StartsWith(CircuitOpen, StringComparison.Ordinal)
                ? $"{CircuitOpen} (last failure: {cause})"
                : notification.LastError ?? CircuitOpen;
        }
        catch (TimeoutRejectedException)
        {
            error = $"no answer within {options.AttemptTimeout}";
        }
        catch (HttpRequestException ex)
        {
            error = ex.HttpRequestError == HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError}: {ex.Message}";
        }
#pragma warning disable CA1031 // Anything else (a signer that throws, say) is one more failed attempt, not the end of the dispatcher.
        catch (Exception ex) when (ex is not OperationCanceledException)
#pragma warning restore CA1031
        {
            error = $"{ex.GetType().Name}: {ex.Message}";
        }

        notification.Attempts += attempts;
        await FailAsync(notification, error ?? "unknown error", options).ConfigureAwait(false);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient http, LogoutNotification notification, int attempt, CancellationToken cancellationToken)
    {
        using var activity = AutoSignOutServerTelemetry.ActivitySource.StartActivity("autosignout.logout_token.deliver", ActivityKind.Client);
        activity?.SetTag("autosignout.client_id", notification.ClientId);
        activity?.SetTag("autosignout.notification_id", notification.Id);
        activity?.SetTag("autosignout.attempt", attempt);
        activity?.SetTag("url.full", notification.Endpoint.AbsoluteUri);

        var token = await GetTokenAsync(notification, cancellationToken).ConfigureAwait(false);
        using var request = new HttpRequestMessage(HttpMethod.Post, notification.Endpoint)
        {
            Content = new FormUrlEncodedContent([new KeyValuePair<string, string>("logout_token", token)]),
        };
        try
        {
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            activity?.SetTag("http.response.status_code", (int)response.StatusCode);
            if (!response.IsSuccessStatusCode)
            {
                activity?.SetStatus(ActivityStatusCode.Error, response.StatusCode.ToString());
            }

            return response;
        }
        catch (Exception ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            activity?.AddException(ex);
            throw;
        }
    }

    private async ValueTask<string> GetTokenAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        // The token minted at enqueue serves the first attempt while it is fresh; any later attempt, or a token that
        // aged in the queue, gets a newly minted one with its own jti.
        var stored = notification.LogoutToken;
        notification.LogoutToken = null;
        var lifetime = _options.CurrentValue.LogoutTokenLifetime;
        var margin = lifetime / 2 < TimeSpan.FromSeconds(30) ? lifetime / 2 : TimeSpan.FromSeconds(30);
        if (stored is not null && notification.LogoutTokenExpiresAt is { } expires && _time.GetUtcNow() < expires - margin)
        {
            return stored;
        }

        var minted = await _tokens.CreateAsync(notification, cancellationToken).ConfigureAwait(false);
        return minted.Token;
    }

    private async Task CompleteAsync(LogoutNotification notification)
    {
        try
        {
            await _completions.AddAsync([notification]).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The lease runs out and the notification is delivered again; the dispatcher must keep going.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.OutcomeNotWritten(ex, notification.Id);
            return;
        }

        var tag = new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId);
        _telemetry.DeliveryDuration.Record((_time.GetUtcNow() - notification.CreatedAt).TotalSeconds, tag);
        _telemetry.Delivered.Add(1, tag);
        _logger.NotificationDelivered(notification.Id, notification.ClientId, notification.Attempts);
    }

    private async Task FailAsync(LogoutNotification notification, string error, AutoSignOutServerOptions options)
    {
        var now = _time.GetUtcNow();
        var tag = new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId);
        notification.LastError = error;
        notification.LogoutToken = null;
        notification.LogoutTokenExpiresAt = null;
        var rounds = Math.Max(1, notification.Attempts / (options.ImmediateRetries + 1));
        var next = RetrySchedule.NextAttempt(options, notification.CreatedAt, rounds, now, Random.Shared.NextDouble());
        if (next is null)
        {
            notification.State = LogoutNotificationState.DeadLettered;
            if (await WriteOutcomeAsync(notification, _outbox.DeadLetterAsync).ConfigureAwait(false))
            {
                _telemetry.DeadLettered.Add(1, tag);
                _logger.NotificationDeadLettered(notification.Id, notification.ClientId, notification.Endpoint, notification.Attempts, error);
            }

            return;
        }

        notification.NextAttemptAt = next.Value;
        if (await WriteOutcomeAsync(notification, _outbox.RescheduleAsync).ConfigureAwait(false))
        {
            _signal.RetryAt(next.Value);
            _telemetry.Retried.Add(1, tag);
            _logger.NotificationRescheduled(notification.Id, notification.ClientId, notification.Endpoint, notification.Attempts, error, next.Value);
        }
    }

    private async Task<bool> WriteOutcomeAsync(LogoutNotification notification, Func<LogoutNotification, CancellationToken, ValueTask> write)
    {
        try
        {
            // The outcome is written even while the host stops: losing it would only cost a duplicate delivery, but
            // writing it is cheap and keeps the client's replay cache out of it.
            await write(notification, CancellationToken.None).ConfigureAwait(false);
            return true;
        }
#pragma warning disable CA1031 // The lease runs out and another attempt follows; the dispatcher must keep going.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.OutcomeNotWritten(ex, notification.Id);
            return false;
        }
    }

    private void Configure(ResiliencePipelineBuilder<HttpResponseMessage> builder, AutoSignOutServerOptions options)
    {
        builder.TimeProvider = _time;
        var failure = new PredicateBuilder<HttpResponseMessage>()
            .Handle<HttpRequestException>()
            .Handle<TimeoutRejectedException>()
            .HandleResult(static r => !r.IsSuccessStatusCode);
        if (options.ImmediateRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                ShouldHandle = failure,
                MaxRetryAttempts = options.ImmediateRetries,
                Delay = options.ImmediateRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                OnRetry = args =>
                {
                    _telemetry.Retried.Add(1);
                    return default;
                },
            });
        }

        // Per endpoint: a dead client fails fast instead of tying up deliveries to the healthy ones.
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
        {
            ShouldHandle = failure,
            FailureRatio = options.CircuitBreakerFailureRatio,
            MinimumThroughput = options.CircuitBreakerMinimumThroughput,
            SamplingDuration = options.CircuitBreakerSamplingDuration,
            BreakDuration = options.CircuitBreakerBreakDuration,
        });
        builder.AddTimeout(options.AttemptTimeout);
    }

    private static async Task<string> DescribeAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = $"HTTP {(int)response.StatusCode} {response.StatusCode}";
        if (response.StatusCode != HttpStatusCode.BadRequest)
        {
            return status;
        }

        try
        {
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            return body.Length == 0 ? status : $"{status}: {(body.Length > 512 ? body[..512] : body)}";
        }
        catch (HttpRequestException)
        {
            return status;
        }
    }

    public void Dispose() => _pipelines.Dispose();
}
