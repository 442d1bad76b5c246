using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.CircuitBreaker;
using Polly.Registry;
using Polly.Retry;
using Polly.Timeout;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Delivers one leased notification: runs the endpoint's resilience pipeline around "mint if needed, POST, read at
/// most a prefix of a refusal", then writes the outcome (delivered, rescheduled or dead-lettered) back to the outbox.
/// </summary>
/// <remarks>
/// Polly's retry wraps the minting as well as the POST, so every attempt carries a fresh <c>jti</c>; that is why the
/// pipeline is built here over <see cref="HttpClient"/> rather than as an HTTP resilience handler, which would
/// resend the same request. The circuit breaker sits outside the quick retries: it judges whole dispatches, so an
/// endpoint that takes each token on its third try keeps its circuit closed, while a dead one opens it.
/// </remarks>
internal sealed class LogoutDeliverer : IDisposable
{
    private const string CircuitOpen = "the endpoint's circuit is open after repeated failures";

    // A 400's body only explains the refusal; a client that streams more must not hold the slot or the memory.
    internal const int MaxBodyPrefixBytes = 512;

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
    private readonly GroupCommit<LogoutNotification> _deferrals;
    private readonly ConcurrentDictionary<string, EndpointCircuit> _circuits = new(StringComparer.Ordinal);

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
        _deferrals = new GroupCommit<LogoutNotification>(outbox.RescheduleAsync, maxBatch: 1000);
    }

    /// <summary>
    /// What the circuit of the endpoint with key <paramref name="key"/> allows at <paramref name="now"/>: every
    /// dispatch (closed), none until <paramref name="until"/> (open), or a single probe (the break is over).
    /// </summary>
    public EndpointCircuitState GetCircuitState(string key, DateTimeOffset now, out DateTimeOffset until)
    {
        until = default;
        if (!_circuits.TryGetValue(key, out var circuit))
        {
            return EndpointCircuitState.Closed;
        }

        var ticks = Volatile.Read(ref circuit.OpenUntilTicks);
        if (ticks == 0)
        {
            return EndpointCircuitState.Closed;
        }

        until = new DateTimeOffset(ticks, TimeSpan.Zero);
        return until > now && !Volatile.Read(ref circuit.HalfOpen) ? EndpointCircuitState.Open : EndpointCircuitState.Probing;
    }

    /// <summary>
    /// Gives back, without an attempt, a row the dispatcher holds for an endpoint whose circuit is open until
    /// <paramref name="until"/>: like a dispatch the circuit refused (one more failed dispatch, no attempt, logged at
    /// Debug), but written together with the endpoint's other rows rather than one UPDATE each.
    /// </summary>
    public async Task DeferForOpenCircuitAsync(LogoutNotification notification, DateTimeOffset until)
    {
        var options = _options.CurrentValue;
        var now = _time.GetUtcNow();
        if (now >= notification.CreatedAt + options.RetryHorizon || until >= notification.CreatedAt + options.RetryHorizon)
        {
            // Its last try or its end: the row's own schedule decides, one row at a time.
            await DeferAsync(notification, until - now, options).ConfigureAwait(false);
            return;
        }

        PrepareDeferral(notification);
        notification.NextAttemptAt = until;
        try
        {
            await _deferrals.AddAsync([notification]).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // The lease runs out and the row is tried later all the same.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            _logger.OutcomeNotWritten(ex, notification.Id);
            return;
        }

        _signal.RetryAt(until);
        _telemetry.Retried.Add(1, new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId));
        _logger.NotificationDeferred(notification.Id, notification.ClientId, EndpointRules.Redact(notification.Endpoint), until);
    }

    public async Task DeliverAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        var options = _options.CurrentValue;
        if (!EndpointRules.IsHttp(notification.Endpoint))
        {
            // A binding's recipient or a stored row with another scheme: never sent, and never retried.
            await FailAsync(notification, new DeliveryOutcome(DeliveryOutcomeKind.Permanent, "the back-channel logout URI is not an absolute http(s) URI"), options).ConfigureAwait(false);
            return;
        }

        var key = EndpointRules.Key(notification.Endpoint);
        var pipeline = _pipelines.GetOrAddPipeline<DeliveryOutcome>(key, builder => Configure(builder, options, key));
        var http = _httpClients.CreateClient(AutoSignOutServerDefaults.HttpClientName);
        var attempts = 0;
        DeliveryOutcome outcome;
        try
        {
            outcome = await pipeline.ExecuteAsync(
                async token =>
                {
                    attempts++;
                    return await AttemptAsync(http, notification, notification.Attempts + attempts, options, token).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
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
        catch (BrokenCircuitException ex)
        {
            await DeferAsync(notification, ex.RetryAfter, options).ConfigureAwait(false);
            return;
        }
        catch (TimeoutRejectedException)
        {
            outcome = new DeliveryOutcome(DeliveryOutcomeKind.Transient, $"no answer within {options.AttemptTimeout}");
        }
#pragma warning disable CA1031 // Anything else is one more failed attempt, not the end of the dispatcher.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            outcome = new DeliveryOutcome(DeliveryOutcomeKind.Transient, Describe(ex));
        }

        notification.Attempts += Math.Max(1, attempts);
        if (outcome.Kind == DeliveryOutcomeKind.Delivered)
        {
            await CompleteAsync(notification).ConfigureAwait(false);
            return;
        }

        await FailAsync(notification, outcome, options).ConfigureAwait(false);
    }

    private async Task<DeliveryOutcome> AttemptAsync(HttpClient http, LogoutNotification notification, int attempt, AutoSignOutServerOptions options, CancellationToken cancellationToken)
    {
        using var activity = AutoSignOutServerTelemetry.ActivitySource.StartActivity("autosignout.logout_token.deliver", ActivityKind.Client);
        activity?.SetTag("autosignout.client_id", notification.ClientId);
        activity?.SetTag("autosignout.notification_id", notification.Id);
        activity?.SetTag("autosignout.attempt", attempt);
        activity?.SetTag("url.full", EndpointRules.Redact(notification.Endpoint));
        try
        {
            var token = await GetTokenAsync(notification, cancellationToken).ConfigureAwait(false);
            using var request = new HttpRequestMessage(HttpMethod.Post, notification.Endpoint)
            {
                Content = new FormUrlEncodedContent([new KeyValuePair<string, string>("logout_token", token)]),
            };
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
            activity?.SetTag("http.response.status_code", (int)response.StatusCode);
            var outcome = await ClassifyAsync(response, options, cancellationToken).ConfigureAwait(false);
            if (outcome.Kind != DeliveryOutcomeKind.Delivered)
            {
                activity?.SetStatus(ActivityStatusCode.Error, response.StatusCode.ToString());
            }

            return outcome;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Not the host and not the attempt timeout: a connect timeout or a binding's own. Still an attempt.
            activity?.SetStatus(ActivityStatusCode.Error, "timeout");
            return new DeliveryOutcome(DeliveryOutcomeKind.Transient, $"timed out: {ex.Message}");
        }
        catch (HttpRequestException ex)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            activity?.AddException(ex);
            return ex.InnerException is EndpointAddressRefusedException refused
                ? new DeliveryOutcome(DeliveryOutcomeKind.Permanent, refused.Message)
                : new DeliveryOutcome(DeliveryOutcomeKind.Transient, Describe(ex));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            activity?.AddException(ex);
            throw;
        }
    }

    private static async Task<DeliveryOutcome> ClassifyAsync(HttpResponseMessage response, AutoSignOutServerOptions options, CancellationToken cancellationToken)
    {
        var code = (int)response.StatusCode;
        var status = $"HTTP {code} {response.StatusCode}";
        if (code is >= 200 and < 300)
        {
            return DeliveryOutcome.Success;
        }

        if (code is 408 or 425 or 429 or >= 500)
        {
            return new DeliveryOutcome(DeliveryOutcomeKind.Transient, status, RetryAfter: RetryAfter(response, options));
        }

        if (code == 400)
        {
            return new DeliveryOutcome(DeliveryOutcomeKind.TokenRejected, status, await ReadPrefixAsync(response.Content, cancellationToken).ConfigureAwait(false));
        }

        return new DeliveryOutcome(DeliveryOutcomeKind.Permanent, status);
    }

    private static TimeSpan? RetryAfter(HttpResponseMessage response, AutoSignOutServerOptions options)
    {
        var header = response.Headers.RetryAfter;
        TimeSpan? wait = header?.Delta ?? (header?.Date is { } date ? date - DateTimeOffset.UtcNow : null);
        if (wait is not { } w || w <= TimeSpan.Zero)
        {
            return null;
        }

        // Honoured, but within the schedule's own ceiling: a client cannot park a notification for a year.
        return w > options.MaxRetryDelay ? options.MaxRetryDelay : w;
    }

    /// <summary>Reads at most <see cref="MaxBodyPrefixBytes"/> of the body, under the attempt's timeout.</summary>
    private static async Task<string?> ReadPrefixAsync(HttpContent content, CancellationToken cancellationToken)
    {
        try
        {
            using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            var buffer = new byte[MaxBodyPrefixBytes];
            var read = 0;
            while (read < buffer.Length)
            {
                var n = await stream.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
                if (n == 0)
                {
                    break;
                }

                read += n;
            }

            if (read == 0)
            {
                return null;
            }

            var text = Encoding.UTF8.GetString(buffer, 0, read);
            // Keep it one printable line: it ends up in a column and in Debug logs.
            var clean = new StringBuilder(text.Length);
            foreach (var c in text)
            {
                clean.Append(char.IsControl(c) ? ' ' : c);
            }

            return clean.ToString().Trim();
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException)
        {
            return null;
        }
    }

    private async ValueTask<string> GetTokenAsync(LogoutNotification notification, CancellationToken cancellationToken)
    {
        // The token minted at enqueue serves the first attempt while it is fresh; any later attempt, or a token that
        // aged in the queue, gets a newly minted one with its own jti. (An outbox drops the stored token of a row
        // whose earlier lease ran out, since that token may have reached the client already.)
        var stored = notification.LogoutToken;
        notification.LogoutToken = null;
        var lifetime = _options.CurrentValue.LogoutTokenLifetime;
        var margin = lifetime / 2 < TimeSpan.FromSeconds(30) ? lifetime / 2 : TimeSpan.FromSeconds(30);
        if (stored is not null && notification.Attempts == 0 && notification.LogoutTokenExpiresAt is { } expires && _time.GetUtcNow() < expires - margin)
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

    /// <summary>
    /// The circuit refused the dispatch before any attempt: no attempt is counted, but the row backs off like a
    /// failed dispatch, no sooner than the circuit may close, and the rejection is logged at Debug only.
    /// </summary>
    private async Task DeferAsync(LogoutNotification notification, TimeSpan? retryAfter, AutoSignOutServerOptions options)
    {
        var now = _time.GetUtcNow();
        PrepareDeferral(notification);
        var next = RetrySchedule.NextAttempt(options, notification.CreatedAt, notification.FailedDispatches, now, Random.Shared.NextDouble(), retryAfter);
        if (next is null)
        {
            await DeadLetterAsync(notification, CircuitOpen).ConfigureAwait(false);
            return;
        }

        notification.NextAttemptAt = next.Value;
        if (await WriteOutcomeAsync(notification, _outbox.RescheduleAsync).ConfigureAwait(false))
        {
            _signal.RetryAt(next.Value);
            _telemetry.Retried.Add(1, new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId));
            _logger.NotificationDeferred(notification.Id, notification.ClientId, EndpointRules.Redact(notification.Endpoint), next.Value);
        }
    }

    private static void PrepareDeferral(LogoutNotification notification)
    {
        notification.FailedDispatches++;
        notification.LogoutToken = null;
        notification.LogoutTokenExpiresAt = null;
        var cause = notification.LastError;
        notification.LastError = cause is not null && !cause.StartsWith(CircuitOpen, StringComparison.Ordinal)
            ? $"{CircuitOpen} (last failure: {cause})"
            : cause ?? CircuitOpen;
    }

    private async Task FailAsync(LogoutNotification notification, DeliveryOutcome outcome, AutoSignOutServerOptions options)
    {
        var now = _time.GetUtcNow();
        notification.LastError = outcome.Describe();
        notification.LogoutToken = null;
        notification.LogoutTokenExpiresAt = null;
        notification.FailedDispatches++;
        if (outcome.Detail is { } detail)
        {
            _logger.EndpointSaid(notification.Id, notification.ClientId, detail);
        }

        DateTimeOffset? next = null;
        switch (outcome.Kind)
        {
            case DeliveryOutcomeKind.Transient:
                next = RetrySchedule.NextAttempt(options, notification.CreatedAt, notification.FailedDispatches, now, Random.Shared.NextDouble(), outcome.RetryAfter);
                break;
            case DeliveryOutcomeKind.TokenRejected:
                // The client refused this token; its key cache may catch up, so a few spaced tries with fresh tokens.
                notification.TokenRejections++;
                if (notification.TokenRejections <= options.RejectedTokenRetries)
                {
                    next = RetrySchedule.NextAttempt(options, notification.CreatedAt, notification.TokenRejections, now, Random.Shared.NextDouble());
                }

                break;
        }

        if (next is null)
        {
            await DeadLetterAsync(notification, outcome.Error).ConfigureAwait(false);
            return;
        }

        notification.NextAttemptAt = next.Value;
        if (await WriteOutcomeAsync(notification, _outbox.RescheduleAsync).ConfigureAwait(false))
        {
            _signal.RetryAt(next.Value);
            _telemetry.Retried.Add(1, new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId));
            _logger.NotificationRescheduled(notification.Id, notification.ClientId, EndpointRules.Redact(notification.Endpoint), notification.Attempts, outcome.Error, next.Value);
        }
    }

    private async Task DeadLetterAsync(LogoutNotification notification, string error)
    {
        notification.State = LogoutNotificationState.DeadLettered;
        // Dead-lettered rows keep NextAttemptAt as the time they were given up, which retention counts from.
        notification.NextAttemptAt = _time.GetUtcNow();
        if (await WriteOutcomeAsync(notification, _outbox.DeadLetterAsync).ConfigureAwait(false))
        {
            _telemetry.DeadLettered.Add(1, new KeyValuePair<string, object?>("autosignout.client_id", notification.ClientId));
            _logger.NotificationDeadLettered(notification.Id, notification.ClientId, EndpointRules.Redact(notification.Endpoint), notification.Attempts, error);
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

    private void Configure(ResiliencePipelineBuilder<DeliveryOutcome> builder, AutoSignOutServerOptions options, string key)
    {
        // The dispatcher reads the circuit's state to hold an open endpoint's rows back as a whole (and to send a
        // single probe when the break is over) instead of leasing them only for the circuit to refuse them.
        var circuit = _circuits.GetOrAdd(key, static _ => new EndpointCircuit());
        builder.TimeProvider = _time;
        // Only what says "the endpoint is unwell" counts: a refused token or a 404 is an answer, not an outage.
        var transient = new PredicateBuilder<DeliveryOutcome>()
            .Handle<TimeoutRejectedException>()
            .Handle<HttpRequestException>()
            .Handle<Exception>(static ex => ex is not OperationCanceledException and not BrokenCircuitException)
            .HandleResult(static r => r.Kind == DeliveryOutcomeKind.Transient);

        // Outermost: the breaker sees whole dispatches, after their quick retries.
        builder.AddCircuitBreaker(new CircuitBreakerStrategyOptions<DeliveryOutcome>
        {
            ShouldHandle = transient,
            FailureRatio = options.CircuitBreakerFailureRatio,
            MinimumThroughput = options.CircuitBreakerMinimumThroughput,
            SamplingDuration = options.CircuitBreakerSamplingDuration,
            // Each failed probe doubles the break, up to the longest retry delay: a dead endpoint costs less and less.
            BreakDurationGenerator = args =>
            {
                var factor = Math.Pow(2, Math.Min(args.HalfOpenAttempts, 20));
                var ms = Math.Min(options.CircuitBreakerBreakDuration.TotalMilliseconds * factor, Math.Max(options.MaxRetryDelay.TotalMilliseconds, options.CircuitBreakerBreakDuration.TotalMilliseconds));
                return ValueTask.FromResult(TimeSpan.FromMilliseconds(ms));
            },
            OnOpened = args =>
            {
                Volatile.Write(ref circuit.HalfOpen, false);
                Volatile.Write(ref circuit.OpenUntilTicks, (_time.GetUtcNow() + args.BreakDuration).UtcTicks);
                return default;
            },
            OnHalfOpened = _ =>
            {
                Volatile.Write(ref circuit.HalfOpen, true);
                return default;
            },
            OnClosed = _ =>
            {
                Volatile.Write(ref circuit.OpenUntilTicks, 0);
                Volatile.Write(ref circuit.HalfOpen, false);
                return default;
            },
        });
        if (options.ImmediateRetries > 0)
        {
            var quick = options.ImmediateRetryDelay * 4;
            builder.AddRetry(new RetryStrategyOptions<DeliveryOutcome>
            {
                // A client that asks for a longer pause than a blip gets it from the durable schedule instead.
                ShouldHandle = args => ValueTask.FromResult(
                    (args.Outcome.Exception is { } ex && ex is not OperationCanceledException)
                    || (args.Outcome.Exception is null && args.Outcome.Result.Kind == DeliveryOutcomeKind.Transient && (args.Outcome.Result.RetryAfter is not { } wait || wait <= quick))),
                MaxRetryAttempts = options.ImmediateRetries,
                Delay = options.ImmediateRetryDelay,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                DelayGenerator = static args => ValueTask.FromResult(args.Outcome.Result.RetryAfter),
                OnRetry = args =>
                {
                    _telemetry.Retried.Add(1);
                    return default;
                },
            });
        }

        builder.AddTimeout(options.AttemptTimeout);
    }

    private static string Describe(Exception ex) => ex switch
    {
        HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } http => $"{http.HttpRequestError}: {http.Message}",
        _ => $"{ex.GetType().Name}: {ex.Message}",
    };

    public void Dispose() => _pipelines.Dispose();
}

/// <summary>What an endpoint's circuit allows.</summary>
internal enum EndpointCircuitState
{
    /// <summary>Every dispatch, up to the endpoint's concurrency limit.</summary>
    Closed,

    /// <summary>None until the break is over: the endpoint's rows are held back as a whole.</summary>
    Open,

    /// <summary>The break is over (or a probe is out): one dispatch at a time, until the circuit closes or opens again.</summary>
    Probing,
}

/// <summary>The dispatcher's view of one endpoint's circuit, kept by the breaker's callbacks.</summary>
internal sealed class EndpointCircuit
{
    /// <summary>When the open circuit's break ends, in UTC ticks; zero while the circuit is closed.</summary>
    public long OpenUntilTicks;

    /// <summary>Whether a probe has been let through since the break ended.</summary>
    public bool HalfOpen;
}

/// <summary>Checks and log-safe forms of back-channel logout URIs.</summary>
internal static class EndpointRules
{
    public static bool IsHttp(Uri? uri)
        => uri is { IsAbsoluteUri: true } && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    /// <summary>The key of an endpoint's circuit and concurrency limit: scheme, host, port and path.</summary>
    public static string Key(Uri uri) => uri.IsAbsoluteUri ? uri.GetLeftPart(UriPartial.Path) : uri.OriginalString;

    /// <summary>The URI without user info, query or fragment, which may carry secrets, for logs and traces.</summary>
    public static string Redact(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return "(relative URI)";
        }

        var left = uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped);
        return uri.Query.Length > 0 ? left + "?(redacted)" : left;
    }
}
