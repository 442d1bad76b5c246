namespace AutoSignOut.IdentityServer;

/// <summary>
/// Default values of <see cref="AutoSignOutServerOptions"/> and the names the engine publishes under.
/// </summary>
public static class AutoSignOutServerDefaults
{
    /// <summary>The name of the meter and of the activity source: <c>AutoSignOut.IdentityServer</c>.</summary>
    public const string TelemetryName = "AutoSignOut.IdentityServer";

    /// <summary>The name of the <see cref="System.Net.Http.HttpClient"/> that delivers logout tokens.</summary>
    public const string HttpClientName = "AutoSignOut.BackChannelLogout";

    /// <summary>The <c>typ</c> header of a logout token: <c>logout+jwt</c>.</summary>
    public const string LogoutTokenType = "logout+jwt";

    /// <summary>The member of the <c>events</c> claim that marks a back-channel logout token.</summary>
    public const string BackChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout";

    /// <summary>The claim that carries the reason of the revocation.</summary>
    public const string ReasonClaim = "reason";

    /// <summary>The claim that lists the identifiers of the revoked tokens.</summary>
    public const string RevokedTokenIdsClaim = "revoked_jti";

    /// <summary>Lifetime of a logout token: 2 minutes, the most clients accept.</summary>
    public static readonly TimeSpan LogoutTokenLifetime = TimeSpan.FromMinutes(2);

    /// <summary>Timeout of one HTTP attempt: 10 seconds.</summary>
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a notification is retried before it is dead-lettered: 24 hours.</summary>
    public static readonly TimeSpan RetryHorizon = TimeSpan.FromHours(24);

    /// <summary>First delay of the durable retry schedule: 5 seconds (doubled each time, with jitter).</summary>
    public static readonly TimeSpan InitialRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Longest delay between two durable retries: 15 minutes.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMinutes(15);

    /// <summary>Quick retries inside one dispatch, for blips: 2.</summary>
    public const int ImmediateRetries = 2;

    /// <summary>First delay between quick retries: 500 milliseconds (doubled each time, with jitter).</summary>
    public static readonly TimeSpan ImmediateRetryDelay = TimeSpan.FromMilliseconds(500);

    /// <summary>How many deliveries run at once: 64.</summary>
    public const int MaxConcurrentDeliveries = 64;

    /// <summary>How many deliveries to one endpoint run at once: 8.</summary>
    public const int MaxConcurrentDeliveriesPerEndpoint = 8;

    /// <summary>How many more spaced tries a notification gets after its client refused a token with a 400: 2.</summary>
    public const int RejectedTokenRetries = 2;

    /// <summary>Time kept free at the end of a lease for clock skew and the outcome write: 30 seconds.</summary>
    public static readonly TimeSpan LeaseSafetyMargin = TimeSpan.FromSeconds(30);

    /// <summary>How long dead-lettered notifications are kept: 3 days.</summary>
    public static readonly TimeSpan DeadLetterRetention = TimeSpan.FromDays(3);

    /// <summary>How long a leased outbox row belongs to one engine instance: 5 minutes.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromMinutes(5);

    /// <summary>How often the dispatcher looks at the outbox when nothing wakes it: 5 seconds.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(5);

    /// <summary>Failure ratio above which an endpoint's circuit opens: 0.5.</summary>
    public const double CircuitBreakerFailureRatio = 0.5;

    /// <summary>Attempts an endpoint must see in the sampling window before its circuit may open: 4.</summary>
    public const int CircuitBreakerMinimumThroughput = 4;

    /// <summary>Window in which an endpoint's failures are counted: 60 seconds.</summary>
    public static readonly TimeSpan CircuitBreakerSamplingDuration = TimeSpan.FromSeconds(60);

    /// <summary>How long an endpoint's open circuit refuses attempts: 30 seconds.</summary>
    public static readonly TimeSpan CircuitBreakerBreakDuration = TimeSpan.FromSeconds(30);

    /// <summary>Age of the oldest pending notification above which the health check reports degraded: 5 minutes.</summary>
    public static readonly TimeSpan HealthDegradedAge = TimeSpan.FromMinutes(5);
}
