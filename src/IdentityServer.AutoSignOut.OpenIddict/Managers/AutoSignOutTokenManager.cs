using System.Collections.Immutable;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenIddict.Abstractions;
using OpenIddict.Core;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// OpenIddict's token manager, with every revocation path turned into logout notifications: the single-token path
/// (the revocation endpoint's <see cref="TryRevokeAsync"/>) and the bulk methods, which OpenIddict runs as store-level
/// updates that never pass through the single-token path. Redemption (<c>TryRedeemAsync</c>: code exchange, refresh
/// token rotation) and pruning are not revocations and notify nobody.
/// </summary>
/// <typeparam name="TToken">OpenIddict's token entity.</typeparam>
public class AutoSignOutTokenManager<TToken> : OpenIddictTokenManager<TToken>
    where TToken : class
{
    // OpenIddict 6+ stores token types as URNs; older rows (and other stores) may hold the short hint.
    private static readonly ImmutableArray<string> RefreshTokenTypes = [TokenTypeIdentifiers.RefreshToken, TokenTypeHints.RefreshToken];

    private readonly IServiceProvider _services;

    /// <summary>Creates the manager; resolved by dependency injection in place of OpenIddict's.</summary>
    /// <param name="cache">OpenIddict's token cache.</param>
    /// <param name="logger">OpenIddict's token manager logger.</param>
    /// <param name="options">OpenIddict's core options.</param>
    /// <param name="store">The token store.</param>
    /// <param name="services">The request's services (scoped).</param>
    public AutoSignOutTokenManager(
        IOpenIddictTokenCache<TToken> cache,
        ILogger<OpenIddictTokenManager<TToken>> logger,
        IOptionsMonitor<OpenIddictCoreOptions> options,
        IOpenIddictTokenStore<TToken> store,
        IServiceProvider services)
        : base(cache, logger, options, store)
        => _services = services;

    /// <inheritdoc/>
    public override async ValueTask<bool> TryRevokeAsync(TToken token, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (RevocationScope.Current.Suppressed
            || !await HasStatusAsync(token, Statuses.Valid, cancellationToken).ConfigureAwait(false)
            || !await HasTypeAsync(token, RefreshTokenTypes, cancellationToken).ConfigureAwait(false))
        {
            // Access tokens revoked one by one are reference tokens whose jti the index does not hold; codes are not
            // credentials a client app signs in with. Neither names a session to end at a client.
            return await base.TryRevokeAsync(token, cancellationToken).ConfigureAwait(false);
        }

        var targets = new RevocationTargets();
        await AddAsync(targets, token, cancellationToken).ConfigureAwait(false);
        return await ManagerRevocation.RevokeOneAsync(_services, targets, ct => base.TryRevokeAsync(token, ct), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public override ValueTask<long> RevokeAsync(string? subject, string? client, string? status, string? type, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindAsync(subject, client, status, type, cancellationToken), ct => base.RevokeAsync(subject, client, status, type, ct), cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<long> RevokeBySubjectAsync(string subject, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindBySubjectAsync(subject, cancellationToken), ct => base.RevokeBySubjectAsync(subject, ct), cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<long> RevokeByApplicationIdAsync(string identifier, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindByApplicationIdAsync(identifier, cancellationToken), ct => base.RevokeByApplicationIdAsync(identifier, ct), cancellationToken);

    /// <inheritdoc/>
    public override ValueTask<long> RevokeByAuthorizationIdAsync(string identifier, CancellationToken cancellationToken = default)
        => RevokeManyAsync(FindByAuthorizationIdAsync(identifier, cancellationToken), ct => base.RevokeByAuthorizationIdAsync(identifier, ct), cancellationToken);

    private ValueTask<long> RevokeManyAsync(IAsyncEnumerable<TToken> affected, Func<CancellationToken, ValueTask<long>> revoke, CancellationToken cancellationToken) =>
        ManagerRevocation.RevokeManyAsync(_services, affected, (entry, ct) => HasStatusAsync(entry, Statuses.Valid, ct), AddAsync, revoke, cancellationToken);

    private async ValueTask AddAsync(RevocationTargets targets, TToken token, CancellationToken cancellationToken) => targets.Add(
        await GetSubjectAsync(token, cancellationToken).ConfigureAwait(false),
        await GetApplicationIdAsync(token, cancellationToken).ConfigureAwait(false),
        await GetAuthorizationIdAsync(token, cancellationToken).ConfigureAwait(false));
}
