using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis;

/// <summary>Settings of AutoSignOut's Redis link (<c>AddRedis</c>); validated at start.</summary>
public sealed class AutoSignOutRedisOptions
{
    /// <summary>
    /// The StackExchange.Redis configuration string, such as <c>redis.example.com:6379,password=…</c>. Required unless
    /// <see cref="ConnectionMultiplexerFactory"/> is set. <c>abortConnect</c> is always off (the app starts without Redis)
    /// and commands fail at once while disconnected instead of queueing.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// Creates the connection, for an app that shares its own multiplexer (its operations should fail fast while
    /// disconnected: <see cref="BacklogPolicy.FailFast"/>). Default: <see langword="null"/>, a connection made from
    /// <see cref="Configuration"/>.
    /// </summary>
    public Func<Task<IConnectionMultiplexer>>? ConnectionMultiplexerFactory { get; set; }

    /// <summary>
    /// Prefix of every Redis key and channel AutoSignOut uses, so several apps can share one Redis. Default:
    /// <see cref="AutoSignOutRedisDefaults.KeyPrefix"/>. Every node of one app must use the same prefix.
    /// </summary>
    public string KeyPrefix { get; set; } = AutoSignOutRedisDefaults.KeyPrefix;

    /// <summary>
    /// The app's name on the stream: an entry written under another name is foreign, logged and skipped. Default: the
    /// host's <c>IHostEnvironment.ApplicationName</c>.
    /// </summary>
    public string? ApplicationName { get; set; }

    /// <summary>
    /// The bound of every Redis operation (connect, read, write): past it the operation counts as failed, so no request
    /// or logout waits longer on a dead Redis. Default: <see cref="AutoSignOutRedisDefaults.OperationTimeout"/> (2 s).
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = AutoSignOutRedisDefaults.OperationTimeout;

    /// <summary>
    /// How long an authentication waits for this node to catch up with the stream (at start, after a reconnect) before
    /// it refuses the credentials for this request without ending them. Default:
    /// <see cref="AutoSignOutRedisDefaults.CatchUpTimeout"/> (5 s).
    /// </summary>
    public TimeSpan CatchUpTimeout { get; set; } = AutoSignOutRedisDefaults.CatchUpTimeout;

    /// <summary>
    /// How often the node reads the stream without being notified (a notification lost with a dropped subscription is
    /// made up for within this time). Default: <see cref="AutoSignOutRedisDefaults.PollInterval"/> (1 s).
    /// </summary>
    public TimeSpan PollInterval { get; set; } = AutoSignOutRedisDefaults.PollInterval;

    /// <summary>
    /// How long entries stay on the stream, which is also the revoked set a starting node loads. At least
    /// <see cref="AutoSignOutOptions.RevocationLifetime"/>. Default: <see langword="null"/>, the revocation lifetime plus one hour.
    /// </summary>
    public TimeSpan? StreamRetention { get; set; }

    /// <summary>Entries read per round trip while catching up. Default: <see cref="AutoSignOutRedisDefaults.ReadBatchSize"/> (500).</summary>
    public int ReadBatchSize { get; set; } = AutoSignOutRedisDefaults.ReadBatchSize;

    /// <summary>
    /// Signals applied here but not yet published (Redis unavailable) kept for publishing once it is back; past this
    /// number the oldest are dropped, logged and counted. Default: <see cref="AutoSignOutRedisDefaults.MaxPendingSignals"/> (10,000).
    /// </summary>
    public int MaxPendingSignals { get; set; } = AutoSignOutRedisDefaults.MaxPendingSignals;
}

/// <summary>Default values of <see cref="AutoSignOutRedisOptions"/>.</summary>
public static class AutoSignOutRedisDefaults
{
    /// <summary>The default key prefix.</summary>
    public const string KeyPrefix = "autosignout:";

    /// <summary>The name of the meter of the Redis link's instruments.</summary>
    public const string TelemetryName = "AutoSignOut.AspNetCore.Redis";

    /// <summary>The default health check name.</summary>
    public const string HealthCheckName = "autosignout-redis";

    /// <summary>The default <see cref="AutoSignOutRedisOptions.ReadBatchSize"/>.</summary>
    public const int ReadBatchSize = 500;

    /// <summary>The default <see cref="AutoSignOutRedisOptions.MaxPendingSignals"/>.</summary>
    public const int MaxPendingSignals = 10_000;

    /// <summary>The default <see cref="AutoSignOutRedisOptions.OperationTimeout"/>: 2 seconds.</summary>
    public static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(2);

    /// <summary>The default <see cref="AutoSignOutRedisOptions.CatchUpTimeout"/>: 5 seconds.</summary>
    public static readonly TimeSpan CatchUpTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="AutoSignOutRedisOptions.PollInterval"/>: 1 second.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(1);
}
