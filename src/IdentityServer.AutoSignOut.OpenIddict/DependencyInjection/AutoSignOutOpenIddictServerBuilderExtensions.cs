using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds AutoSignOut to an OpenIddict server.</summary>
public static class AutoSignOutOpenIddictServerBuilderExtensions
{
    /// <summary>
    /// Makes every revocation at this OpenIddict server reach the clients' live connections over OIDC Back-Channel
    /// Logout 1.0: stamps a <c>sid</c> per IdP login session into the tokens, advertises back-channel logout in
    /// discovery, and sends signed logout tokens (OpenIddict's own issuer and keys) through the AutoSignOut engine when
    /// the user signs out, a session expires or is ended, or grants are revoked (revocation endpoint or OpenIddict's
    /// managers). Also adds the engine (<c>AddAutoSignOutServer</c>) when it is not added yet. Call it once.
    /// </summary>
    /// <param name="builder">The OpenIddict server builder.</param>
    /// <param name="configure">Configures <see cref="AutoSignOutOpenIddictOptions"/>; optional.</param>
    /// <returns>A builder to configure the binding's storage.</returns>
    public static AutoSignOutOpenIddictBuilder AddAutoSignOut(this OpenIddictServerBuilder builder, Action<AutoSignOutOpenIddictOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<AutoSignOutOpenIddictOptions>().ValidateDataAnnotations().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutOpenIddictOptions>, AutoSignOutOpenIddictOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OpenIddictServerOptions>, OpenIddictSigningValidator>());
        services.AddOptions<OpenIddictServerOptions>().ValidateOnStart();

        services.AddAutoSignOutServer();
        // The binding's sources replace the engine's configuration-based defaults, whatever the order of the calls.
        services.RemoveAll<ILogoutRecipientSource>();
        services.AddSingleton<ILogoutRecipientSource, OpenIddictLogoutRecipientSource>();
        services.RemoveAll<ILogoutSigningCredentialsSource>();
        services.AddSingleton<ILogoutSigningCredentialsSource, OpenIddictLogoutSigningCredentialsSource>();
        services.TryAddSingleton<IIssuedTokenIndex, InMemoryIssuedTokenIndex>();

        services.TryAddSingleton<OpenIddictBindingTelemetry>();
        services.TryAddSingleton<SessionLifecycle>();
        services.TryAddSingleton<IAutoSignOutSessionStore, InMemoryAutoSignOutSessionStore>();
        services.TryAddScoped<IAutoSignOutRevocationWriter, NotifyAfterRevocationWriter>();
        services.TryAddScoped<IAutoSignOutSessionService, AutoSignOutSessionService>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IPostConfigureOptions<CookieAuthenticationOptions>, SessionCookieEvents>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, SessionExpirationService>());

        new OpenIddictCoreBuilder(services)
            .ReplaceApplicationManager(typeof(AutoSignOutApplicationManager<>))
            .ReplaceAuthorizationManager(typeof(AutoSignOutAuthorizationManager<>))
            .ReplaceTokenManager(typeof(AutoSignOutTokenManager<>));

        builder.AddEventHandler(CaptureRedeemedSessionId.Descriptor)
            .AddEventHandler(AttachSessionId.Descriptor)
            .AddEventHandler(RecordIssuedAccessToken.Descriptor)
            .AddEventHandler(EndSessionOnSignOut.RequestDescriptor)
            .AddEventHandler(EndSessionOnSignOut.SignOutDescriptor)
            .AddEventHandler(AdvertiseBackChannelLogout.Descriptor);
        return new AutoSignOutOpenIddictBuilder(services);
    }
}
