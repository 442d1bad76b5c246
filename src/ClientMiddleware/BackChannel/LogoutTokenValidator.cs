using System.Text.Json;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>The outcome of validating a logout token: a signal (and until when its <c>jti</c> must be remembered), or a rejection with its reason.</summary>
internal readonly record struct LogoutTokenValidationResult(SignOutSignal? Signal, LogoutTokenRejectionReason Reason, string? Description, DateTimeOffset RememberUntil = default)
{
    public static LogoutTokenValidationResult Fail(LogoutTokenRejectionReason reason, string description) => new(null, reason, description);
}

/// <summary>
/// Validates a logout token to the letter of OIDC Back-Channel Logout 1.0 §2.6: a JWS with an allowed algorithm (one the
/// provider lists, if it lists any), signed by a configured provider's key, with that provider's discovered <c>iss</c>,
/// one of its client ids in <c>aud</c>, <c>iat</c> and <c>exp</c> within the clock skew and a lifetime within the cap,
/// <c>sub</c> or <c>sid</c>, the back-channel logout event, no <c>nonce</c>, no JSON member twice, and a <c>typ</c>
/// that is absent or <c>logout+jwt</c>. The <c>jti</c> is checked and recorded by the endpoint, after the effect.
/// </summary>
internal sealed class LogoutTokenValidator
{
    private const int MaxReasonLength = 200;

    // One description for every failure that would tell an anonymous caller which issuers or key ids exist.
    private const string IssuerKeyOrSignature = "The logout token's issuer, signing key or signature is not accepted.";
    private readonly AutoSignOutOptions _options;
    private readonly TimeProvider _time;
    private readonly ProviderKeySet _keys;

    public LogoutTokenValidator(IOptions<AutoSignOutOptions> options, ProviderKeySet keys, TimeProvider time)
    {
        _options = options.Value;
        _time = time;
        _keys = keys;
    }

    public async ValueTask<LogoutTokenValidationResult> ValidateAsync(string token, CancellationToken cancellationToken)
    {
        if (!JwsParts.TryParse(token, out var jws, out var duplicateMember))
        {
            return duplicateMember
                ? LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.DuplicateMember, "The logout token has a JSON member twice.")
                : LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MalformedToken, "The logout token is not a well-formed signed JWT.");
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
        ProviderKeys? keys;
        ProviderKeys.Snapshot? snapshot;
        try
        {
            keys = await _keys.FindAsync(issuer, cancellationToken);
            if (keys is null)
            {
                return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuer, IssuerKeyOrSignature);
            }

            snapshot = await keys.GetAsync(cancellationToken);
            if (snapshot is null)
            {
                return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.KeysUnavailable, "The OpenID Provider's signing keys could not be read.");
            }

            if (jws.KeyId is { Length: > 0 } kid && !snapshot.HasKeyId(kid))
            {
                // Refreshed whatever keys without an id are configured: the provider may have rotated to this kid.
                snapshot = await keys.RefreshForUnknownKeyAsync(cancellationToken) ?? snapshot;
                if (!snapshot.HasKeyId(kid) && !snapshot.HasKeyWithoutId)
                {
                    return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.UnknownKey, IssuerKeyOrSignature);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }

        if (!string.Equals(issuer, snapshot.Issuer, StringComparison.Ordinal))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuer, IssuerKeyOrSignature);
        }

        if (!snapshot.Verify(jws, alg))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidSignature, IssuerKeyOrSignature);
        }

        if (!HasAudience(root, keys.Provider.ClientIds))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidAudience, "The logout token's audience is not this client.");
        }

        return ValidateClaims(root, snapshot.Issuer);
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

    private LogoutTokenValidationResult ValidateClaims(JsonElement root, string issuer)
    {
        var now = _time.GetUtcNow().UtcTicks;
        var skew = _options.ClockSkew.Ticks;

        if (!TryGetNumericDate(root, "exp", out var exp))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.MissingExpiration, "The logout token has no 'exp'.");
        }

        if (Add(exp, skew) <= now)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.Expired, "The logout token has expired.");
        }

        if (root.TryGetProperty("nbf", out _) && (!TryGetNumericDate(root, "nbf", out var nbf) || nbf - skew > now))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.Expired, "The logout token is not valid yet.");
        }

        if (!TryGetNumericDate(root, "iat", out var iat) || iat - skew > now
            || (_options.MaxLogoutTokenAge is { } maxAge && Add(Add(iat, maxAge.Ticks), skew) < now))
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.InvalidIssuedAt, "The logout token's 'iat' is missing or out of range.");
        }

        if (exp - iat > _options.MaxLogoutTokenLifetime.Ticks)
        {
            return LogoutTokenValidationResult.Fail(LogoutTokenRejectionReason.LifetimeTooLong, "The logout token's lifetime ('exp' - 'iat') is too long.");
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

        // The revocation's moment comes from the token, not its receipt: a replay on another node, or after a restart,
        // revokes nothing issued after the token's time (plus the skew, for a provider clock behind ours; plus a second,
        // as iat has whole seconds). Never later than now.
        var revokedAt = Math.Min(now, Add(Add(iat, TimeSpan.TicksPerSecond), skew));
        var reason = GetString(root, AutoSignOutDefaults.ReasonClaim);
        return new LogoutTokenValidationResult(
            new SignOutSignal
            {
                Issuer = issuer,
                Subject = string.IsNullOrEmpty(sub) ? null : sub,
                SessionId = string.IsNullOrEmpty(sid) ? null : sid,
                TokenIds = GetStrings(root, AutoSignOutDefaults.RevokedTokenIdsClaim),
                Reason = reason is { Length: > MaxReasonLength } ? reason[..MaxReasonLength] : reason,
                CreatedAt = new DateTimeOffset(revokedAt, TimeSpan.Zero),
                ProviderIssuedAt = new DateTimeOffset(iat, TimeSpan.Zero),
                Source = SignOutSignalSources.BackChannelLogout,
                LogoutTokenId = jti,
            },
            default,
            null,
            new DateTimeOffset(Add(exp, skew), TimeSpan.Zero));
    }

    /// <summary>Adds ticks, saturating at the calendar's end (a token's 'exp' may be its last second).</summary>
    private static long Add(long ticks, long delta) =>
        delta > 0 && ticks > DateTimeOffset.MaxValue.UtcTicks - delta ? DateTimeOffset.MaxValue.UtcTicks : ticks + delta;

    private static bool TryGetNumericDate(JsonElement root, string name, out long ticks)
    {
        ticks = 0;
        if (!root.TryGetProperty(name, out var element) || element.ValueKind != JsonValueKind.Number || !element.TryGetDouble(out var seconds)
            || !double.IsFinite(seconds) || seconds < 0 || seconds > 253402300799)
        {
            return false;
        }

        ticks = DateTimeOffset.UnixEpoch.UtcTicks + (long)(seconds * TimeSpan.TicksPerSecond);
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
