using AutoSignOut.IdentityServer.Duende;
using AutoSignOut.IdentityServer.Duende.EntityFrameworkCore;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Writes AutoSignOut's notifications in the transaction of Duende's EF operational store.</summary>
public static class AutoSignOutOperationalStoreTransactionExtensions
{
    /// <summary>
    /// Stores the logout notifications of each Duende operation that revokes (logout and expiry coordination, admin
    /// session removal, the revocation endpoint, grant removal) in the same database transaction as that operation's
    /// writes through the EF operational store (<c>AddOperationalStore</c>): a rollback, whether Duende's, the caller's or
    /// a failure before the commit, sends nothing; a committed deletion always has its notifications. The outbox must be
    /// the EF outbox (<c>AddAutoSignOutEntityFrameworkOutbox</c>) on the operational store's database; otherwise (other
    /// stores, another database) the notifications are stored right after Duende's write, as without this call.
    /// </summary>
    /// <param name="builder">The IdentityServer builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IIdentityServerBuilder AddAutoSignOutOperationalStoreTransaction(this IIdentityServerBuilder builder)
        => builder.AddAutoSignOutOperationalStoreTransaction<AutoSignOutDbContext>();

    /// <summary>
    /// As <see cref="AddAutoSignOutOperationalStoreTransaction(IIdentityServerBuilder)"/>, for an outbox registered with
    /// an application's own context (<c>AddAutoSignOutEntityFrameworkOutbox&lt;TOutboxContext&gt;</c>).
    /// </summary>
    /// <typeparam name="TOutboxContext">The outbox's context, whose <see cref="IDbContextFactory{TContext}"/> is registered.</typeparam>
    /// <param name="builder">The IdentityServer builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static IIdentityServerBuilder AddAutoSignOutOperationalStoreTransaction<TOutboxContext>(this IIdentityServerBuilder builder)
        where TOutboxContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<IRevocationTransactionSource>();
        builder.Services.AddSingleton<IRevocationTransactionSource, OperationalStoreRevocationTransactionSource<TOutboxContext>>();
        return builder;
    }
}
