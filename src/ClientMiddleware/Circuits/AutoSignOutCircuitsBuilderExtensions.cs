using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds AutoSignOut for Blazor Server circuits.</summary>
public static class AutoSignOutCircuitsBuilderExtensions
{
    /// <summary>
    /// Signs Blazor Server circuits out live. Every circuit of an authenticated user is registered under the same keys
    /// as hub connections (<c>sid</c>, <c>sub</c>, <c>jti</c>). On a matching signal the circuit's authentication state
    /// becomes anonymous at once (components re-render signed out), its inbound events are refused (a refused event
    /// ends the circuit), the browser is sent to <see cref="AutoSignOutCircuitOptions.SignedOutPath"/> with the reason
    /// by a full page load, and the circuit's connection is closed. Reconnecting to or resuming the circuit is refused.
    /// <c>AddAutoSignOut</c> already calls it; call it again to configure the circuit options, which is all a second
    /// call does.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddAutoSignOut</c>.</param>
    /// <param name="configure">Configures the circuit options.</param>
    /// <returns>The same builder.</returns>
    public static IAutoSignOutBuilder AddBlazorCircuits(this IAutoSignOutBuilder builder, Action<AutoSignOutCircuitOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (configure is not null)
        {
            services.Configure(configure);
        }

        services.AddOptions<AutoSignOutCircuitOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutCircuitOptions>, AutoSignOutCircuitOptionsValidator>());
        services.TryAddSingleton<CircuitHubGate>();
        services.TryAddEnumerable(ServiceDescriptor.Scoped<CircuitHandler, AutoSignOutCircuitHandler>());
        return builder;
    }
}
