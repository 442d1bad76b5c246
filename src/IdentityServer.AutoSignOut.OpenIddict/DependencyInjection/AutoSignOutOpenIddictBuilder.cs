namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Configures the AutoSignOut OpenIddict binding further, e.g. <c>.UseEntityFrameworkCore&lt;TContext&gt;()</c>.</summary>
public sealed class AutoSignOutOpenIddictBuilder
{
    /// <summary>Creates the builder.</summary>
    /// <param name="services">The service collection.</param>
    public AutoSignOutOpenIddictBuilder(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        Services = services;
    }

    /// <summary>The service collection.</summary>
    public IServiceCollection Services { get; }
}
