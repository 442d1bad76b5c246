using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// OpenIddict's authorization manager, with every revocation path (one authorization, or the bulk methods by subject,
/// client or filter) turned into logout notifications for the sessions and clients whose grants ended. Pruning
/// notifies nobody.
/// </summary>
/// <typeparam name="TAuthorization">OpenIddict's authorization entity.</typeparam>
public class AutoSignOutAuthorizationManager<TAuthorization> : OpenIddictAuthorizationManager<TAuthorization>
    where TAuthorization : class
{
    private readonly IServiceProvider _services;

    /// <summary>Creates the manager; resolved by dependency injection in place of OpenIddict's.</summary>
    /// <param name="cache">OpenIddict's authorization cache.</param>
    /// <param name="logger">OpenIddict's authorization manager logger.</param>
    /// <param name="options">OpenIddict's core options.</param>
    /// <param name="store">The authorization store.</param>
    /// <param name="services">The request's services (scoped).</param>
    public AutoSignOutAuthorizationManager(
        IOpenIddictAuthorizationCache<TAuthorization> cache,
        ILogger<OpenIddictAuthorizationManager<TAuthorization>> logger,
        IOptionsMonitor<OpenIddictCoreOptions> options,
        IOpenIddictAuthorizationStore<TAuthorization> store,
        IServiceProvider services)
        : base(cache, logger, options, store)
        => _services = services;

    /// <inheritdoc/>
    public override async ValueTask<bool> TryRevokeAsync(TAuthorization authorization, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(authorization);
        if (RevocationScope.Current.Suppressed || !await HasStatusAsync(authorization, Statuses.Valid, cancellationToken).ConfigureAwait(false))
        {
            return await base.TryRevokeAsync(authorization, cancellationToken).ConfigureAwait(false);
        }

        var targets = new RevocationTargets();
        await AddAsync(targets, authorization, cancellationToken).ConfigureAwait(false);
        return await ManagerRevocation.RevokeOneAsync(_services, targets, ct => base.TryRevokeAsync(authorization, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override ValueTask<long> RevokeAsync(string? subject, string? client, string? status, string? type, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindAsync(subject, client, status, type, scopes: null, cancellationToken), ct => base.RevokeAsync(subject, client, status, type, ct), cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<long> RevokeBySubjectAsync(string subject, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindBySubjectAsync(subject, cancellationToken), ct => base.RevokeBySubjectAsync(subject, ct), cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<long> RevokeByApplicationIdAsync(string identifier, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindByApplicationIdAsync(identifier, cancellationToken), ct => base.RevokeByApplicationIdAsync(identifier, ct), cancellationToken);

    private ValueTask<long> RevokeManyAsync(IAsyncEnumerable<TAuthorization> affected, Func<CancellationToken, ValueTask<long>> revoke, CancellationToken cancellationToken) =>
        ManagerRevocation.RevokeManyAsync(_services, affected, (entry, ct) => HasStatusAsync(entry, Statuses.Valid, ct), AddAsync, revoke, cancellationToken);

    private async ValueTask AddAsync(RevocationTargets targets, TAuthorization authorization, CancellationToken cancellationToken) => targets.Add(
        await GetSubjectAsync(authorization, cancellationToken).ConfigureAwait(false),
        await GetApplicationIdAsync(authorization, cancellationToken).ConfigureAwait(false),
        await GetIdAsync(authorization, cancellationToken).ConfigureAwait(false));
}
