using AutoSignOut.IdentityServer;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the AutoSignOut server engine.
/// </summary>
public static class AutoSignOutServerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the engine: <see cref="IAutoSignOutServer"/>, the logout token factory, the dispatcher (a hosted service)
    /// and its HTTP client. Sources and outbox that are not registered yet default to the configuration-based
    /// <see cref="ConfiguredLogoutRecipientSource"/> and <see cref="ConfiguredLogoutSigningCredentialsSource"/> and the
    /// <see cref="InMemoryLogoutOutbox"/>; register a binding's sources and a durable outbox to replace them.
    /// Calling it again only adds configuration.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Configures <see cref="AutoSignOutServerOptions"/>; optional.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddAutoSignOutServer(this IServiceCollection services, Action<AutoSignOutServerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var optionsBuilder = services.AddOptions<AutoSignOutServerOptions>().ValidateDataAnnotations().ValidateOnStart();
        if (configure is not null)
        {
            optionsBuilder.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutServerOptions>, AutoSignOutServerOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddHttpClient(AutoSignOutServerDefaults.HttpClientName)
            .ConfigureHttpClient(static client => client.Timeout = Timeout.InfiniteTimeSpan)
            // The handler lives as long as the process: PooledConnectionLifetime already picks up DNS changes, and
            // rotating the handler every two minutes would throw the connection pools away.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(static sp => BackChannelHttpHandler.Create(sp.GetRequiredService<IOptions<AutoSignOutServerOptions>>().Value));

        services.TryAddSingleton<ILogoutOutbox, InMemoryLogoutOutbox>();
        services.TryAddSingleton<ILogoutRecipientSource, ConfiguredLogoutRecipientSource>();
        services.TryAddSingleton<ILogoutSigningCredentialsSource, ConfiguredLogoutSigningCredentialsSource>();
        services.TryAddSingleton<LogoutTokenFactory>();
        services.TryAddSingleton<LogoutDispatchSignal>();
        services.TryAddSingleton<ILogoutDispatchSignal>(static sp => sp.GetRequiredService<LogoutDispatchSignal>());
        services.TryAddSingleton<AutoSignOutServerTelemetry>();
        services.TryAddSingleton<LogoutDeliverer>();
        services.TryAddSingleton<IAutoSignOutServer, AutoSignOutServer>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, LogoutDispatcher>());
        return services;
    }

    /// <summary>
    /// Adds a health check of the logout outbox: degraded when the oldest pending notification is older than
    /// <see cref="AutoSignOutServerOptions.HealthDegradedAge"/>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name; default <c>autosignout-outbox</c>.</param>
    /// <param name="tags">Tags to filter health checks by; optional.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IHealthChecksBuilder AddAutoSignOutOutbox(this IHealthChecksBuilder builder, string name = "autosignout-outbox", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<LogoutOutboxHealthCheck>(name, HealthStatus.Unhealthy, tags ?? []);
    }
}
