using AutoSignOut.AspNetCore;
using AutoSignOut.AspNetCore.Redis;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Runs AutoSignOut on several nodes through Redis.</summary>
public static class AutoSignOutRedisBuilderExtensions
{
    /// <summary>
    /// Shares sign-outs between the app's nodes through Redis: the signal bus becomes a Redis stream every node reads
    /// from the last entry it applied, the revoked set a starting node loads comes from it, and a logout token's
    /// <c>jti</c> is recorded in Redis so a replay to another node is refused. The revocation check stays in memory on
    /// every node. Calling it again only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="builder">The builder <c>AddAutoSignOut</c> returned.</param>
    /// <param name="configuration">The StackExchange.Redis configuration string (<see cref="AutoSignOutRedisOptions.Configuration"/>).</param>
    /// <param name="configure">Configures the other options.</param>
    /// <returns>The builder.</returns>
    public static IAutoSignOutBuilder AddRedis(this IAutoSignOutBuilder builder, string configuration, Action<AutoSignOutRedisOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(configuration);
        return builder.AddRedis(o =>
        {
            o.Configuration = configuration;
            configure?.Invoke(o);
        });
    }

    /// <summary>
    /// Shares sign-outs between the app's nodes through Redis (see <see cref="AddRedis(IAutoSignOutBuilder, string, Action{AutoSignOutRedisOptions}?)"/>);
    /// <paramref name="configure"/> sets <see cref="AutoSignOutRedisOptions.Configuration"/> or
    /// <see cref="AutoSignOutRedisOptions.ConnectionMultiplexerFactory"/>.
    /// </summary>
    /// <param name="builder">The builder <c>AddAutoSignOut</c> returned.</param>
    /// <param name="configure">Configures the options.</param>
    /// <returns>The builder.</returns>
    public static IAutoSignOutBuilder AddRedis(this IAutoSignOutBuilder builder, Action<AutoSignOutRedisOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var services = builder.Services;
        services.Configure(configure);
        if (services.Any(d => d.ServiceType == typeof(RedisSignalStream)))
        {
            return builder;
        }

        services.AddOptions<AutoSignOutRedisOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<AutoSignOutRedisOptions>, AutoSignOutRedisPostConfigureOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutRedisOptions>, AutoSignOutRedisOptionsValidator>());
        services.TryAddSingleton<RedisConnection>();
        services.TryAddSingleton<RedisLinkState>();
        services.TryAddSingleton<RedisMetrics>();
        services.TryAddSingleton<RedisSignalStream>();
        services.AddHostedService(static sp => sp.GetRequiredService<RedisSignalStream>());

        services.RemoveAll<ISignOutSignalBus>();
        services.AddSingleton<ISignOutSignalBus, RedisSignOutSignalBus>();
        Decorate<IRevokedSessionStore>(services, static (sp, local) => new RedisRevokedSessionStore(local, sp.GetRequiredService<RedisLinkState>()));
        Decorate<ILogoutTokenReplayCache>(services, static (sp, local) => ActivatorUtilities.CreateInstance<RedisLogoutTokenReplayCache>(sp, local));
        return builder;
    }

    /// <summary>
    /// Adds the health check of AutoSignOut's Redis link: Healthy when current with the stream, Degraded while catching
    /// up or while Redis is unavailable, <paramref name="failureStatus"/> (default Unhealthy) until the node has loaded
    /// the revoked set (it refuses every credential until then).
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name. Default: <see cref="AutoSignOutRedisDefaults.HealthCheckName"/>.</param>
    /// <param name="failureStatus">The status while the revoked set is not loaded. Default: Unhealthy.</param>
    /// <param name="tags">Tags to filter checks by.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddAutoSignOutRedis(this IHealthChecksBuilder builder, string name = AutoSignOutRedisDefaults.HealthCheckName, HealthStatus? failureStatus = null, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(name, static sp => new AutoSignOutRedisHealthCheck(sp.GetRequiredService<RedisLinkState>()), failureStatus, tags));
    }

    private static void Decorate<TService>(IServiceCollection services, Func<IServiceProvider, TService, TService> decorate)
        where TService : class
    {
        var inner = services.Last(d => d.ServiceType == typeof(TService));
        services.Remove(inner);
        services.Add(ServiceDescriptor.Describe(typeof(TService), sp => decorate(sp, Create<TService>(sp, inner)), inner.Lifetime));
    }

    private static TService Create<TService>(IServiceProvider services, ServiceDescriptor descriptor) => (TService)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}

/// <summary>Fills <see cref="AutoSignOutRedisOptions.ApplicationName"/> from the host.</summary>
internal sealed class AutoSignOutRedisPostConfigureOptions(IServiceProvider services) : IPostConfigureOptions<AutoSignOutRedisOptions>
{
    public void PostConfigure(string? name, AutoSignOutRedisOptions options)
    {
        if (string.IsNullOrEmpty(options.ApplicationName))
        {
            options.ApplicationName = services.GetService<IHostEnvironment>()?.ApplicationName is { Length: > 0 } application ? application : "app";
        }
    }
}

/// <summary>Refuses invalid Redis settings at start.</summary>
internal sealed class AutoSignOutRedisOptionsValidator(IOptions<AutoSignOutOptions> autoSignOut) : IValidateOptions<AutoSignOutRedisOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutRedisOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Configuration) && options.ConnectionMultiplexerFactory is null)
        {
            failures.Add("Configuration or ConnectionMultiplexerFactory must be set.");
        }
        else if (options.ConnectionMultiplexerFactory is null)
        {
            try
            {
                StackExchange.Redis.ConfigurationOptions.Parse(options.Configuration!);
            }
            catch (ArgumentException e)
            {
                failures.Add("Configuration is not a valid StackExchange.Redis configuration string: " + e.Message);
            }
        }

        if (string.IsNullOrEmpty(options.KeyPrefix))
        {
            failures.Add("KeyPrefix must be set.");
        }

        if (options.OperationTimeout <= TimeSpan.Zero || options.OperationTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add("OperationTimeout must be positive and at most 1 minute.");
        }

        if (options.CatchUpTimeout < TimeSpan.Zero || options.CatchUpTimeout > TimeSpan.FromMinutes(1))
        {
            failures.Add("CatchUpTimeout must be between 0 and 1 minute.");
        }

        if (options.PollInterval <= TimeSpan.Zero || options.PollInterval > TimeSpan.FromMinutes(5))
        {
            failures.Add("PollInterval must be positive and at most 5 minutes.");
        }

        if (options.StreamRetention is { } retention && retention < autoSignOut.Value.RevocationLifetime)
        {
            failures.Add("StreamRetention must be at least AutoSignOutOptions.RevocationLifetime: a node that starts loads the revoked set from the stream.");
        }

        if (options.ReadBatchSize is < 1 or > 10_000)
        {
            failures.Add("ReadBatchSize must be between 1 and 10,000.");
        }

        if (options.MaxPendingSignals < 1)
        {
            failures.Add("MaxPendingSignals must be positive.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
