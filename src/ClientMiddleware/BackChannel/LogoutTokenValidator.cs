using System.Text.Json;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>The outcome of validating a logout token: a signal, or a rejection with its reason.</summary>
internal readonly record struct LogoutTokenValidationResult(SignOutSignal? Signal, LogoutTokenRejectionReason Reason, string? Description)
{
    public static LogoutTokenValidationResult Fail(LogoutTokenRejectionReason reason, string description) => new(null, reason, description);
}

/// <summary>
/// Validates a logout token to the letter of OIDC Back-Channel Logout 1.0 §2.6: a JWS with an allowed algorithm,
/// signed by a configured provider's key, with that provider's <c>iss</c>, one of its client ids in <c>aud</c>,
/// <c>iat</c> and <c>exp</c> within the clock skew, <c>sub</c> or <c>sid</c>, the back-channel logout event, a
/// <c>jti</c> not seen before, no <c>nonce</c>, and a <c>typ</c> that is absent or <c>logout+jwt</c>.
/// </summary>
internal sealed class LogoutTokenValidator
{
    private const int MaxReasonLength = 200;
    private readonly AutoSignOutOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogoutTokenReplayCache _replayCache;
    private readonly ProviderKeys[] _providers;

    public LogoutTokenValidator(IOptions<AutoSignOutOptions> options, IHttpClientFactory httpClientFactory, TimeProvider time, ILogoutTokenReplayCache replayCache)
    {
        _options = options.Value;
        _time = time;
        _replayCache = replayCache;
        var httpClient = httpClientFactory.CreateClient(AutoSignOutDefaults.HttpClientName);
        _providers = [.. _options.Providers.Select(p => new ProviderKeys(p, _options, httpClient, time))];
    }

    public async ValueTask<LogoutTokenValidationResult> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (!JwsParts.TryParse(token, out var jws))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MalformedToken, "The logout token is not a well-formed signed JWT.");
        }

        using var payload = jws.Payload;
        var alg = jws.Algorithm;
        if (string.IsNullOrEmpty(alg) || string.Equals(alg, "none", StringComparison.OrdinalIgnoreCase) || !_options.AllowedAlgorithms.Contains(alg))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.UnsupportedAlgorithm, "The logout token's signing algorithm is not accepted.");
        }

        if (!IsAcceptedType(jws.Type))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidType, "The logout token's 'typ' header is not 'logout+jwt'.");
        }

        // The issuer is read before the signature is checked only to pick the provider whose keys must verify it.
        var root = payload.RootElement;
        var issuer = GetString(root, "iss");
        var keys = FindProvider(issuer);
        if (keys is null)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuer, "The logout token's issuer is not accepted.");
        }

        ProviderKeys.Snapshot snapshot;
        try
        {
            snapshot = await keys.GetAsync(cancellationToken);
            if (jws.KeyId is { Length: > 0 } kid && !snapshot.HasKey(kid))
            {
                snapshot = await keys.RefreshForUnknownKeyAsync(cancellationToken) ?? snapshot;
                if (!snapshot.HasKey(kid))
                {
                    return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.UnknownKey, "The logout token's signing key is unknown.");
                }
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException or InvalidOperationException or ArgumentException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.KeysUnavailable, "The OpenID Provider's signing keys could not be read.");
        }

        if (!string.Equals(issuer, snapshot.Issuer, StringComparison.Ordinal))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuer, "The logout token's issuer is not accepted.");
        }

        if (!snapshot.Verify(jws, alg))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidSignature, "The logout token's signature is not valid.");
        }

        if (!HasAudience(root, keys.Provider.ClientIds))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidAudience, "The logout token's audience is not this client.");
        }

        return await ValidateClaimsAsync(root, snapshot.Issuer, cancellationToken);
    }

    private static bool HasAudience(JsonElement root, IList<string> clientIds)
    {
        if (!root.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        if (aud.ValueKind == JsonValueKind.String)
        {
            return clientIds.Contains(aud.GetString()!);
        }

        if (aud.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in aud.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && clientIds.Contains(item.GetString()!))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private bool IsAcceptedType(string? typ)
    {
        if (string.IsNullOrEmpty(typ))
        {
            return !_options.RequireLogoutTokenType;
        }

        // RFC 8725 §3.11: "application/" may be omitted from a media type in 'typ'.
        var type = typ.StartsWith("application/", StringComparison.OrdinalIgnoreCase) ? typ["application/".Length..] : typ;
        if (string.Equals(type, AutoSignOutDefaults.LogoutTokenType, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return !_options.RequireLogoutTokenType && string.Equals(type, "JWT", StringComparison.OrdinalIgnoreCase);
    }

    private ProviderKeys? FindProvider(string? issuer)
    {
        if (string.IsNullOrEmpty(issuer))
        {
            return null;
        }

        foreach (var provider in _providers)
        {
            if (string.Equals(provider.Provider.ConfiguredIssuer, issuer, StringComparison.Ordinal))
            {
                return provider;
            }
        }

        return null;
    }

    private async ValueTask<LogoutTokenValidationResult> ValidateClaimsAsync(JsonElement root, string issuer, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var skew = _options.ClockSkew;

        if (!TryGetNumericDate(root, "exp", out var exp))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MissingExpiration, "The logout token has no 'exp'.");
        }

        if (exp + skew <= now)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.Expired, "The logout token has expired.");
        }

        if (root.TryGetProperty("nbf", out _) && (!TryGetNumericDate(root, "nbf", out var nbf) || nbf - skew > now))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.Expired, "The logout token is not valid yet.");
        }

        if (!TryGetNumericDate(root, "iat", out var iat) || iat - skew > now
            || (_options.MaxLogoutTokenAge is { } maxAge && iat + maxAge + skew < now))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuedAt, "The logout token's 'iat' is missing or out of range.");
        }

        var jti = GetString(root, "jti");
        if (string.IsNullOrEmpty(jti))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MissingTokenId, "The logout token has no 'jti'.");
        }

        if (!root.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Object
            || !events.TryGetProperty(AutoSignOutDefaults.BackChannelLogoutEvent, out var logoutEvent) || logoutEvent.ValueKind != JsonValueKind.Object)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidEvents, "The logout token's 'events' claim does not hold the back-channel logout event as a JSON object.");
        }

        if (root.TryGetProperty("nonce", out _))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.NoncePresent, "A logout token must not contain a 'nonce'.");
        }

        if (!TryGetOptionalString(root, "sub", out var sub) || !TryGetOptionalString(root, "sid", out var sid) || (string.IsNullOrEmpty(sub) && string.IsNullOrEmpty(sid)))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MissingSubjectAndSession, "The logout token has neither a 'sub' nor a 'sid' string.");
        }

        // Recorded last, so a token that fails any other rule cannot use up its jti.
        if (!await _replayCache.TryAddAsync(issuer, jti, exp + skew, cancellationToken))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.Replayed, "The logout token was already used.");
        }

        var reason = GetString(root, AutoSignOutDefaults.ReasonClaim);
        return new LogoutTokenValidationResult(
            new SignOutSignal
            {
                Issuer = issuer,
                Subject = string.IsNullOrEmpty(sub) ? null : sub,
                SessionId = string.IsNullOrEmpty(sid) ? null : sid,
                TokenIds = GetStrings(root, AutoSignOutDefaults.RevokedTokenIdsClaim),
                Reason = reason is { Length: > MaxReasonLength } ? reason[..MaxReasonLength] : reason,
                CreatedAt = now,
                Source = SignOutSignalSources.BackChannelLogout,
                LogoutTokenId = jti,
            },
            default,
            null);
    }

    private static bool TryGetNumericDate(JsonElement root, string name, out DateTimeOffset value)
    {
        value = default;
        if (!root.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var seconds)
            || seconds < 0 || seconds > 253402300799)
        {
            return false;
        }

        value = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
        return true;
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var element) && element.ValueKind == JsonValueKind.String ? element.GetString() : null;

    private static bool TryGetOptionalString(JsonElement root, string name, out string? value)
    {
        value = null;
        if (!root.TryGetProperty(name, out var element))
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        value = element.GetString();
        return true;
    }

    private static string[] GetStrings(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var element))
        {
            return [];
        }

        if (element.ValueKind == JsonValueKind.String)
        {
            return [element.GetString()!];
        }

        if (element.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        var values = new List<string>(element.GetArrayLength());
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.String && item.GetString() is { Length: > 0 } s)
            {
                values.Add(s);
            }
        }

        return [.. values];
    }
}
