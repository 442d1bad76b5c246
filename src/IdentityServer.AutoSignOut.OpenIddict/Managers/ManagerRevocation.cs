using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// The one way the manager subclasses revoke: inside the revocation writer's unit of work, with the affected grants
/// read before OpenIddict changes them, and the binding's own (suppressed) work passed straight through.
/// </summary>
internal static class ManagerRevocation
{
    /// <summary>Revokes one entry, whose targets were read beforehand.</summary>
    public static async ValueTask<bool> RevokeOneAsync(IServiceProvider services, RevocationTargets targets, Func<CancellationToken, ValueTask<bool>> revoke, CancellationToken cancellationToken) =>
        await services.GetRequiredService<IAutoSignOutRevocationWriter>().RevokeAsync(
            async ct =>
            {
                var revoked = await revoke(ct).ConfigureAwait(false);
                return new RevocationOutcome<bool>(revoked, revoked ? await targets.ToRevocationsAsync(services, ct).ConfigureAwait(false) : []);
            },
            cancellationToken).ConfigureAwait(false);

    /// <summary>Runs a bulk revocation, reading what is live before the store-level update flips it.</summary>
    public static async ValueTask<long> RevokeManyAsync<TEntity>(
        IServiceProvider services,
        IAsyncEnumerable<TEntity> affected,
        Func<TEntity, CancellationToken, ValueTask<bool>> isLive,
        Func<RevocationTargets, TEntity, CancellationToken, ValueTask> addTarget,
        Func<CancellationToken, ValueTask<long>> revoke,
        CancellationToken cancellationToken)
    {
        if (RevocationScope.Current.Suppressed)
        {
            return await revoke(cancellationToken).ConfigureAwait(false);
        }

        return await services.GetRequiredService<IAutoSignOutRevocationWriter>().RevokeAsync(
            async ct =>
            {
                var targets = new RevocationTargets();
                await foreach (var entry in affected.WithCancellation(ct).ConfigureAwait(false))
                {
                    if (await isLive(entry, ct).ConfigureAwait(false))
                    {
                        await addTarget(targets, entry, ct).ConfigureAwait(false);
                    }
                }

                var count = await revoke(ct).ConfigureAwait(false);
                return new RevocationOutcome<long>(count, await targets.ToRevocationsAsync(services, ct).ConfigureAwait(false));
            },
            cancellationToken).ConfigureAwait(false);
    }
}
