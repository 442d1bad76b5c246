using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.Duende;
using Duende.IdentityServer.ResponseHandling;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Stores;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds AutoSignOut to Duende IdentityServer.</summary>
public static class AutoSignOutIdentityServerBuilderExtensions
{
    /// <summary>
    /// Makes every revocation at this IdentityServer reach the clients' live connections over OIDC Back-Channel Logout
    /// 1.0, through the AutoSignOut engine (durable, retried, never holding the caller): user logout, server-side
    /// session expiry and removal (Duende's back-channel logout sender is replaced, not doubled), the revocation
    /// endpoint, and grant removal through <c>IPersistedGrantService</c> or <c>IPersistedGrantStore</c>. Refresh-token
    /// rotation, code redemption and consent cleanup notify nobody. Issued access tokens are recorded in the jti index;
    /// logout tokens are signed with IdentityServer's keys and issuer. Also adds the engine
    /// (<c>AddAutoSignOutServer</c>) when it is not added yet. Call it after the store registrations
    /// (<c>AddInMemoryPersistedGrants</c>, <c>AddOperationalStore</c>, <c>AddServerSideSessions</c>, …): it decorates them.
    /// </summary>
    /// <param name="builder">The IdentityServer builder.</param>
    /// <param name="configure">Configures <see cref="AutoSignOutDuendeOptions"/>; optional.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IIdentityServerBuilder AddAutoSignOut(this IIdentityServerBuilder builder, Action<AutoSignOutDuendeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<AutoSignOutDuendeOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(static d => d.ServiceType == typeof(RevocationNotifier)))
        {
            // Called before: the decorators are in place, and a second layer would notify twice.
            return builder;
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AutoSignOutDuendeOptions>, AutoSignOutDuendeOptionsValidator>());
        services.AddHttpContextAccessor();
        services.AddAutoSignOutServer();
        // The binding's sources replace the engine's configuration-based defaults, whatever the order of the calls.
        services.RemoveAll<ILogoutRecipientSource>();
        services.AddSingleton<ILogoutRecipientSource, DuendeLogoutRecipientSource>();
        services.TryAddSingleton<DuendeLogoutSigningCredentialsSource>();
        services.RemoveAll<ILogoutSigningCredentialsSource>();
        services.AddSingleton<ILogoutSigningCredentialsSource>(static sp => sp.GetRequiredService<DuendeLogoutSigningCredentialsSource>());
        services.TryAddSingleton<IIssuedTokenIndex, InMemoryIssuedTokenIndex>();
        services.TryAddSingleton<DuendeBindingTelemetry>();
        services.AddTransient<RevocationNotifier>();
        services.TryAddSingleton<NotificationRetryQueue>();
        services.AddHostedService(static sp => sp.GetRequiredService<NotificationRetryQueue>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, BackChannelLogoutClientCheck>());

        // Duende's sender POSTs while the logout page waits, once: replaced by the engine.
        services.RemoveAll<IBackChannelLogoutService>();
        services.AddTransient<IBackChannelLogoutService, AutoSignOutBackChannelLogoutService>();

        services.TryDecorate<ISessionCoordinationService, SessionCoordinationDecorator>();
        services.TryDecorate<ISessionManagementService, SessionManagementDecorator>();
        services.TryDecorate<IPersistedGrantStore, PersistedGrantStoreDecorator>();
        services.TryDecorate<IRefreshTokenService, RefreshTokenServiceDecorator>();
        services.TryDecorate<ITokenRevocationResponseGenerator, TokenRevocationDecorator>();
        services.TryDecorate<ITokenService, TokenServiceDecorator>();
        return builder;
    }
}
