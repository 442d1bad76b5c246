using System.ComponentModel.DataAnnotations;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// OpenIddict's application manager, which also refuses an application whose back-channel logout settings are
/// invalid (a URI that is not an absolute http(s) URI, a session flag that is not a boolean) when it is created or
/// updated.
/// </summary>
/// <typeparam name="TApplication">OpenIddict's application entity.</typeparam>
public class AutoSignOutApplicationManager<TApplication> : OpenIddictApplicationManager<TApplication>
    where TApplication : class
{
    /// <summary>Creates the manager; resolved by dependency injection in place of OpenIddict's.</summary>
    /// <param name="cache">OpenIddict's application cache.</param>
    /// <param name="logger">OpenIddict's application manager logger.</param>
    /// <param name="options">OpenIddict's core options.</param>
    /// <param name="store">The application store.</param>
    public AutoSignOutApplicationManager(
        IOpenIddictApplicationCache<TApplication> cache,
        ILogger<OpenIddictApplicationManager<TApplication>> logger,
        IOptionsMonitor<OpenIddictCoreOptions> options,
        IOpenIddictApplicationStore<TApplication> store)
        : base(cache, logger, options, store)
    {
    }

    /// <inheritdoc/>
    public override async IAsyncEnumerable<ValidationResult> ValidateAsync(TApplication application, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var result in base.ValidateAsync(application, cancellationToken).ConfigureAwait(false))
        {
            yield return result;
        }

        var properties = await GetPropertiesAsync(application, cancellationToken).ConfigureAwait(false);
        foreach (var error in BackChannelLogoutSettings.Validate(properties))
        {
            yield return new ValidationResult(error);
        }
    }
}
