using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers AutoSignOut's client middleware.</summary>
public static class AutoSignOutServiceCollectionExtensions
{
    /// <summary>
    /// Adds AutoSignOut: logout-token validation for <see cref="AutoSignOutOptions.Providers"/>, the in-process signal
    /// bus, the revoked-session set, the connection registry, a global SignalR hub filter, the revoked-cookie and
    /// bearer check for every authentication scheme, and <see cref="IAutoSignOutService"/>. Map the endpoint with
    /// <c>app.MapBackChannelLogout()</c>. Blazor Server circuits are included (see <c>AddBlazorCircuits</c> for their
    /// options). Calling it again only applies <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Configures the options.</param>
    public static IAutoSignOutBuilder AddAutoSignOut(this IServiceCollection services, Action<AutoSignOutOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        if (configure is not null)
        {
            services.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(LiveConnectionRegistry)))
        {
            return new AutoSignOutBuilder(services);
        }

        services.AddOptions<AutoSignOutOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<AutoSignOutOptions>, AutoSignOutPostConfigureOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutOptions>, AutoSignOutOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpClient(AutoSignOutDefaults.HttpClientName);
        services.AddMetrics();
        services.AddLogging();

        services.TryAddSingleton<LiveConnectionRegistry>();
        services.TryAddSingleton<SessionCheck>();
        services.TryAddSingleton<AutoSignOutMetrics>();
        services.TryAddSingleton<IRevokedSessionStore, InMemoryRevokedSessionStore>();
        services.TryAddSingleton<ILogoutTokenReplayCache, InMemoryLogoutTokenReplayCache>();
        services.TryAddSingleton(static sp => new SignOutSignalProcessor(
            sp.GetRequiredService<IOptions<AutoSignOutOptions>>(),
            sp.GetRequiredService<IRevokedSessionStore>(),
            sp.GetRequiredService<LiveConnectionRegistry>(),
            sp.GetRequiredService<AutoSignOutMetrics>(),
            sp.GetRequiredService<TimeProvider>(),
            sp,
            sp.GetRequiredService<ILogger<SignOutSignalProcessor>>()));
        services.TryAddSingleton<ISignOutSignalBus, InProcessSignOutSignalBus>();
        services.TryAddSingleton<IAutoSignOutService, AutoSignOutService>();
        services.TryAddSingleton<ProviderKeySet>();
        services.AddHostedService(static sp => sp.GetRequiredService<ProviderKeySet>());
        services.TryAddSingleton<LogoutTokenValidator>();
        services.TryAddSingleton<BackChannelLogoutEndpoint>();

        services.TryAddSingleton<AutoSignOutHubFilter>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<HubOptions>, AutoSignOutHubOptionsSetup>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<CookieAuthenticationOptions>, AutoSignOutCookieOptionsSetup>());

        // Every scheme authenticates through IAuthenticationService: decorating it covers cookies, bearer tokens and
        // any other handler. AddAuthentication() uses TryAdd, so it keeps the decorated registration whatever the order.
        services.AddAuthenticationCore();
        var inner = services.Last(d => d.ServiceType == typeof(IAuthenticationService));
        services.Remove(inner);
        services.Add(ServiceDescriptor.Describe(
            typeof(IAuthenticationService),
            sp => ActivatorUtilities.CreateInstance<AutoSignOutAuthenticationService>(sp, CreateInner(sp, inner)),
            inner.Lifetime));

        // Blazor Server circuits sign out live with no further call; AddBlazorCircuits(o => …) only sets their options.
        // In an app without Blazor the circuit handler is registered and never resolved.
        return new AutoSignOutBuilder(services).AddBlazorCircuits();
    }

    private static IAuthenticationService CreateInner(IServiceProvider services, ServiceDescriptor descriptor) => (IAuthenticationService)(
        descriptor.ImplementationInstance
        ?? descriptor.ImplementationFactory?.Invoke(services)
        ?? ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
