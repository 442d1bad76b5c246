using System.ComponentModel.DataAnnotations;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// Settings of the AutoSignOut server engine. Validated when the host starts.
/// </summary>
public sealed class AutoSignOutServerOptions
{
    /// <summary>
    /// The issuer used by the configuration-based <see cref="ILogoutSigningCredentialsSource"/>; ignored when a binding
    /// supplies its own source. Default: <see langword="null"/>.
    /// </summary>
    public string? Issuer { get; set; }

    /// <summary>
    /// The signing credentials used by the configuration-based <see cref="ILogoutSigningCredentialsSource"/>; ignored
    /// when a binding supplies its own source. Default: <see langword="null"/>.
    /// </summary>
    public SigningCredentials? SigningCredentials { get; set; }

    /// <summary>
    /// Clients known from configuration, used by the configuration-based <see cref="ILogoutRecipientSource"/>; ignored
    /// when a binding supplies its own source. Default: empty.
    /// </summary>
    public IList<LogoutRecipient> Clients { get; } = [];

    /// <summary>Lifetime of a logout token (<c>exp</c> - <c>iat</c>); at most 2 minutes. Default: 2 minutes.</summary>
    public TimeSpan LogoutTokenLifetime { get; set; } = AutoSignOutServerDefaults.LogoutTokenLifetime;

    /// <summary>Timeout of one HTTP attempt. Default: 10 seconds.</summary>
    public TimeSpan AttemptTimeout { get; set; } = AutoSignOutServerDefaults.AttemptTimeout;

    /// <summary>
    /// How long after a notification was enqueued it is still retried; past it the notification is dead-lettered.
    /// Default: 24 hours.
    /// </summary>
    public TimeSpan RetryHorizon { get; set; } = AutoSignOutServerDefaults.RetryHorizon;

    /// <summary>First delay of the durable retry schedule, doubled at each retry with jitter. Default: 5 seconds.</summary>
    public TimeSpan InitialRetryDelay { get; set; } = AutoSignOutServerDefaults.InitialRetryDelay;

    /// <summary>Longest delay between two durable retries. Default: 15 minutes.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = AutoSignOutServerDefaults.MaxRetryDelay;

    /// <summary>Quick retries within one dispatch, for blips, before the row goes back to the outbox. Default: 2.</summary>
    [Range(0, 10)]
    public int ImmediateRetries { get; set; } = AutoSignOutServerDefaults.ImmediateRetries;

    /// <summary>First delay between quick retries, doubled each time with jitter. Default: 500 milliseconds.</summary>
    public TimeSpan ImmediateRetryDelay { get; set; } = AutoSignOutServerDefaults.ImmediateRetryDelay;

    /// <summary>How many deliveries run at once in this process. Default: 64.</summary>
    [Range(1, 10_000)]
    public int MaxConcurrentDeliveries { get; set; } = AutoSignOutServerDefaults.MaxConcurrentDeliveries;

    /// <summary>
    /// How many deliveries to one endpoint run at once in this process, so that a slow client cannot take every slot.
    /// Default: 8.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentDeliveriesPerEndpoint { get; set; } = AutoSignOutServerDefaults.MaxConcurrentDeliveriesPerEndpoint;

    /// <summary>
    /// How many more times a notification is sent, each time with a fresh token and spaced by the retry schedule,
    /// after its client refused a token with a 400; then it is dead-lettered with the client's reason. Default: 2.
    /// </summary>
    [Range(0, 10)]
    public int RejectedTokenRetries { get; set; } = AutoSignOutServerDefaults.RejectedTokenRetries;

    /// <summary>
    /// How long a row leased by this instance stays invisible to other instances that share the outbox; must exceed
    /// the time one dispatch can take. Default: 5 minutes.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = AutoSignOutServerDefaults.LeaseDuration;

    /// <summary>
    /// Time kept free at the end of a lease: the holder starts no delivery that could still run, or write its outcome,
    /// within this margin of the lease's end, so that instances whose clocks differ by less than it never deliver the
    /// same row at once. Default: 30 seconds.
    /// </summary>
    public TimeSpan LeaseSafetyMargin { get; set; } = AutoSignOutServerDefaults.LeaseSafetyMargin;

    /// <summary>
    /// How long dead-lettered notifications (which hold a subject and session id) are kept for inspection and replay
    /// before housekeeping removes them. Default: 3 days.
    /// </summary>
    public TimeSpan DeadLetterRetention { get; set; } = AutoSignOutServerDefaults.DeadLetterRetention;

    /// <summary>
    /// Which resolved addresses back-channel logout requests may connect to. Default: link-local and metadata
    /// addresses refused, loopback and private networks allowed.
    /// </summary>
    public LogoutEndpointAddressPolicy EndpointAddressPolicy { get; } = new();

    /// <summary>
    /// How often the dispatcher looks at the outbox when nothing woke it (rows enqueued by another instance, leases
    /// left by a stopped one). Default: 5 seconds.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = AutoSignOutServerDefaults.PollInterval;

    /// <summary>Failure ratio above which an endpoint's circuit opens. Default: 0.5.</summary>
    [Range(0.01, 1.0)]
    public double CircuitBreakerFailureRatio { get; set; } = AutoSignOutServerDefaults.CircuitBreakerFailureRatio;

    /// <summary>Attempts an endpoint must see in the sampling window before its circuit may open. Default: 4.</summary>
    [Range(2, int.MaxValue)]
    public int CircuitBreakerMinimumThroughput { get; set; } = AutoSignOutServerDefaults.CircuitBreakerMinimumThroughput;

    /// <summary>Window in which an endpoint's failures are counted. Default: 60 seconds.</summary>
    public TimeSpan CircuitBreakerSamplingDuration { get; set; } = AutoSignOutServerDefaults.CircuitBreakerSamplingDuration;

    /// <summary>How long an open circuit refuses attempts to its endpoint. Default: 30 seconds.</summary>
    public TimeSpan CircuitBreakerBreakDuration { get; set; } = AutoSignOutServerDefaults.CircuitBreakerBreakDuration;

    /// <summary>Age of the oldest pending notification above which the health check reports degraded. Default: 5 minutes.</summary>
    public TimeSpan HealthDegradedAge { get; set; } = AutoSignOutServerDefaults.HealthDegradedAge;

    /// <summary>
    /// The name this instance writes into the leases it takes. An instance that starts under the name of an earlier
    /// run takes that run's leased rows back at once instead of waiting out <see cref="LeaseDuration"/>, so give each
    /// instance a stable name unique among those sharing the outbox (a pod or host name); never share one between two
    /// live instances. Default: machine name and process id (unique, so a restart waits out the leases).
    /// </summary>
    public string InstanceName { get; set; } = $"{Environment.MachineName}:{Environment.ProcessId}";
}
