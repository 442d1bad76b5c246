using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The back-channel logout endpoint (OIDC Back-Channel Logout 1.0 §2.5, §2.8): a form POST with one
/// <c>logout_token</c>; <c>200</c> once the signal is applied, <c>400</c> with a JSON error otherwise, always
/// <c>Cache-Control: no-store</c>. The token's <c>jti</c> is recorded only after the signal took effect, so a provider
/// that retries a logout this node failed to apply is not refused as a replay. A refused request is logged at Debug;
/// at most one Warning a minute sums them up, so anonymous callers cannot flood the log.
/// </summary>
internal sealed class BackChannelLogoutEndpoint(
    LogoutTokenValidator validator,
    ISignOutSignalBus bus,
    ILogoutTokenReplayCache replayCache,
    IOptions<AutoSignOutOptions> options,
    AutoSignOutMetrics metrics,
    TimeProvider time,
    ILogger<BackChannelLogoutEndpoint> logger)
{
    private const string FormContentType = "application/x-www-form-urlencoded";
    private static readonly long WarningIntervalTicks = TimeSpan.FromMinutes(1).Ticks;
    private readonly AutoSignOutOptions _options = options.Value;
    private readonly FormOptions _formOptions = new() { ValueLengthLimit = (int)options.Value.MaxRequestBodySize, ValueCountLimit = 16, KeyLengthLimit = 256 };
    private long _nextWarningTicks = long.MinValue;
    private long _suppressed;

    public async Task HandleAsync(HttpContext context)
    {
        using var activity = AutoSignOutMetrics.ActivitySource.StartActivity("AutoSignOut.BackChannelLogout");
        metrics.Received();
        var request = context.Request;
        var response = context.Response;
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";

        if (!HttpMethods.IsPost(request.Method))
        {
            response.Headers.Allow = HttpMethods.Post;
            await RejectAsync(context, StatusCodes.Status405MethodNotAllowed, LogoutTokenRejectionReason.InvalidRequest, "The back-channel logout endpoint accepts POST only.");
            return;
        }

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType) || !mediaType.MediaType.Equals(FormContentType, StringComparison.OrdinalIgnoreCase))
        {
            await RejectAsync(context, StatusCodes.Status415UnsupportedMediaType, LogoutTokenRejectionReason.InvalidRequest, "The request must be application/x-www-form-urlencoded.");
            return;
        }

        if (request.ContentLength > _options.MaxRequestBodySize)
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, LogoutTokenRejectionReason.InvalidRequest, "The request body is too large.");
            return;
        }

        var sizeLimit = context.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeLimit is { IsReadOnly: false })
        {
            sizeLimit.MaxRequestBodySize = _options.MaxRequestBodySize;
        }

        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(_formOptions, context.RequestAborted);
        }
        catch (Exception e) when (e is BadHttpRequestException or InvalidDataException or IOException)
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, LogoutTokenRejectionReason.InvalidRequest, "The request body is too large or not a valid form.");
            return;
        }

        if (!form.TryGetValue("logout_token", out var values) || values.Count != 1 || string.IsNullOrEmpty(values[0]))
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, LogoutTokenRejectionReason.InvalidRequest, "The request must hold exactly one 'logout_token'.");
            return;
        }

        LogoutTokenValidationResult result;
        try
        {
            result = await validator.ValidateAsync(values[0]!, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The caller went away while the keys were being read (which goes on for the next caller): nothing to answer or log.
            return;
        }

        if (result.Signal is not { } signal)
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, result.Reason, result.Description!);
            return;
        }

        var issuer = signal.Issuer!;
        var jti = signal.LogoutTokenId!;
        if (await replayCache.ContainsAsync(issuer, jti, CancellationToken.None))
        {
            await RejectAsync(context, StatusCodes.Status400BadRequest, LogoutTokenRejectionReason.Replayed, "The logout token was already used.");
            return;
        }

        // The signal is applied on this node (and published to the others) before the 200: a 200 means "signed out".
        try
        {
            await bus.PublishAsync(signal, CancellationToken.None);
        }
        catch (Exception e)
        {
            // Not recorded as used: the provider's retry of the same token is applied. Connections closed anyway.
            Log.LogoutNotApplied(logger, e);
            await RejectAsync(context, StatusCodes.Status400BadRequest, LogoutTokenRejectionReason.NotApplied, "The logout could not be applied; retry later.");
            return;
        }

        await replayCache.TryAddAsync(issuer, jti, result.RememberUntil, CancellationToken.None);
        metrics.Accepted();
        Log.LogoutTokenAccepted(logger, signal.Issuer);
        Log.LogoutTokenDetails(logger, signal.Issuer, signal.Subject, signal.SessionId, signal.LogoutTokenId);
        response.StatusCode = StatusCodes.Status200OK;
    }

    private void LogRejection(LogoutTokenRejectionReason reason)
    {
        Log.LogoutTokenRejected(logger, reason);
        var now = time.GetUtcNow().UtcTicks;
        var next = Volatile.Read(ref _nextWarningTicks);
        if (now >= next && Interlocked.CompareExchange(ref _nextWarningTicks, now + WarningIntervalTicks, next) == next)
        {
            Log.LogoutTokenRejectedSummary(logger, reason, Interlocked.Exchange(ref _suppressed, 0));
        }
        else
        {
            Interlocked.Increment(ref _suppressed);
        }
    }

    private async Task RejectAsync(HttpContext context, int status, LogoutTokenRejectionReason reason, string description)
    {
        metrics.Rejected(reason);
        LogRejection(reason);
        await _options.Events.LogoutTokenRejectedAsync(new LogoutTokenRejectedContext(context, reason, description));

        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        using var buffer = new MemoryStream(256);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("error", reason is LogoutTokenRejectionReason.KeysUnavailable or LogoutTokenRejectionReason.NotApplied ? "temporarily_unavailable" : "invalid_request");
            json.WriteString("error_description", description);
            json.WriteEndObject();
        }

        response.ContentLength = buffer.Length;
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length), context.RequestAborted);
    }
}
