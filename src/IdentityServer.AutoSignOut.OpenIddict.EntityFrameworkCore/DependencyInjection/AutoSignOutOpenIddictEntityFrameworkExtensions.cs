using AutoSignOut.IdentityServer.OpenIddict;
using AutoSignOut.IdentityServer.OpenIddict.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Keeps the OpenIddict binding's data in the IdP's own EF Core context.</summary>
public static class AutoSignOutOpenIddictEntityFrameworkExtensions
{
    /// <summary>
    /// Keeps IdP sessions, the logout outbox and the jti index in <typeparamref name="TContext"/> (the context OpenIddict's
    /// EF Core stores use), and writes logout notifications in the same transaction as each revocation. The context's
    /// model must call <see cref="AutoSignOutOpenIddictModel.UseAutoSignOut"/>, and the context must be registered with
    /// <c>AddDbContextFactory&lt;TContext&gt;(…)</c> (which registers the scoped context too): the outbox dispatcher works
    /// outside requests.
    /// </summary>
    /// <typeparam name="TContext">The IdP's context.</typeparam>
    /// <param name="builder">The binding's builder.</param>
    /// <returns>The builder, for chaining.</returns>
    public static AutoSignOutOpenIddictBuilder UseEntityFrameworkCore<TContext>(this AutoSignOutOpenIddictBuilder builder)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        services.AddAutoSignOutEntityFrameworkOutbox<TContext>();
        services.AddAutoSignOutEntityFrameworkTokenIndex<TContext>();
        services.RemoveAll<IAutoSignOutSessionStore>();
        services.AddScoped<IAutoSignOutSessionStore, EntityFrameworkSessionStore<TContext>>();
        services.RemoveAll<IAutoSignOutRevocationWriter>();
        services.AddScoped<IAutoSignOutRevocationWriter, EntityFrameworkRevocationWriter<TContext>>();
        return builder;
    }
}
