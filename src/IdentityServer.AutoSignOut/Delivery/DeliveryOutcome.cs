namespace AutoSignOut.IdentityServer;

/// <summary>What one HTTP attempt came to, as far as retrying is concerned.</summary>
internal enum DeliveryOutcomeKind
{
    /// <summary>2xx: the client accepted the token.</summary>
    Delivered,

    /// <summary>408, 425, 429, 5xx, a timeout or a connection error: the endpoint may take it later.</summary>
    Transient,

    /// <summary>400: the client refused this token (OIDC BCL §2.8); a fresh one may pass once its key cache catches up.</summary>
    TokenRejected,

    /// <summary>Any other 4xx, a 3xx, or an address the policy refuses: retrying will not help.</summary>
    Permanent,
}

/// <summary>
/// The outcome of one attempt. <see cref="Error"/> is safe to log (status, error kind); <see cref="Detail"/> is what
/// the endpoint said (a prefix of its 400 body), which is stored with the row but logged only at Debug.
/// </summary>
internal readonly record struct DeliveryOutcome(DeliveryOutcomeKind Kind, string Error, string? Detail = null, TimeSpan? RetryAfter = null)
{
    public static readonly DeliveryOutcome Success = new(DeliveryOutcomeKind.Delivered, "");

    public string Describe() => Detail is null ? Error : $"{Error}: {Detail}";
}
