using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Wraps a registered service in a decorator, keeping the registration's lifetime. Duende's own helper is internal,
/// so the binding ships this one; it takes the inner service from whatever the last registration is: a type, a
/// factory or an instance.
/// </summary>
internal static class ServiceDecoration
{
    /// <summary>
    /// Replaces the last registration of <typeparamref name="TService"/> with <typeparamref name="TDecorator"/>, which
    /// receives the original service through its constructor (by type) beside any other services it asks for.
    /// </summary>
    /// <returns><see langword="false"/> when <typeparamref name="TService"/> is not registered (nothing to decorate).</returns>
    public static bool TryDecorate<TService, TDecorator>(this IServiceCollection services)
        where TService : class
        where TDecorator : class, TService
    {
        var index = -1;
        for (var i = services.Count - 1; i >= 0; i--)
        {
            if (services[i].ServiceType == typeof(TService) && !services[i].IsKeyedService)
            {
                index = i;
                break;
            }
        }

        if (index < 0)
        {
            return false;
        }

        var original = services[index];
        services[index] = ServiceDescriptor.Describe(
            typeof(TService),
            sp => ActivatorUtilities.CreateInstance<TDecorator>(sp, CreateInner(sp, original)),
            original.Lifetime);
        return true;
    }

    private static object CreateInner(IServiceProvider services, ServiceDescriptor original)
    {
        if (original.ImplementationInstance is { } instance)
        {
            return instance;
        }

        if (original.ImplementationFactory is { } factory)
        {
            return factory(services);
        }

        // Created like the container would have, not resolved: the type may be registered elsewhere with another lifetime.
        return ActivatorUtilities.CreateInstance(services, original.ImplementationType!);
    }
}
