namespace AutoSignOut.AspNetCore;

/// <summary>Why a back-channel logout request was refused. Used in the <c>reason</c> tag of the rejection counter.</summary>
public enum LogoutTokenRejectionReason
{
    /// <summary>The request is not a single-<c>logout_token</c> form POST within the size limit.</summary>
    InvalidRequest,

    /// <summary>The token is not a well-formed JWS.</summary>
    MalformedToken,

    /// <summary>The <c>alg</c> is <c>none</c> or not in the allow-list, or does not fit the key.</summary>
    UnsupportedAlgorithm,

    /// <summary>The <c>typ</c> header names another kind of token (or is missing in strict mode).</summary>
    InvalidType,

    /// <summary>The <c>iss</c> is not a configured provider. (The caller is told only that issuer, key or signature failed.)</summary>
    InvalidIssuer,

    /// <summary>No key of the provider has the token's <c>kid</c>, even after a refresh.</summary>
    UnknownKey,

    /// <summary>The signature does not verify.</summary>
    InvalidSignature,

    /// <summary>The <c>aud</c> holds none of the provider's client ids.</summary>
    InvalidAudience,

    /// <summary>The <c>exp</c> is missing.</summary>
    MissingExpiration,

    /// <summary>The token has expired, or is not yet valid.</summary>
    Expired,

    /// <summary>The <c>iat</c> is missing, in the future beyond the clock skew, or older than allowed.</summary>
    InvalidIssuedAt,

    /// <summary>The <c>jti</c> is missing.</summary>
    MissingTokenId,

    /// <summary>The <c>events</c> claim is missing or does not hold the back-channel logout member as a JSON object.</summary>
    InvalidEvents,

    /// <summary>A <c>nonce</c> is present.</summary>
    NoncePresent,

    /// <summary>Neither <c>sub</c> nor <c>sid</c> is present.</summary>
    MissingSubjectAndSession,

    /// <summary>The <c>jti</c> was seen before: a replay.</summary>
    Replayed,

    /// <summary>The provider's keys could not be read.</summary>
    KeysUnavailable,

    /// <summary>A JSON object holds a member twice (RFC 7515 §5.2, RFC 8725 §3.1 ask for refusal).</summary>
    DuplicateMember,

    /// <summary>The token lives longer (<c>exp</c> - <c>iat</c>) than <see cref="AutoSignOutOptions.MaxLogoutTokenLifetime"/>.</summary>
    LifetimeTooLong,

    /// <summary>The token was valid but its signal could not be applied (the revoked-session store failed); the provider should retry.</summary>
    NotApplied,
}
