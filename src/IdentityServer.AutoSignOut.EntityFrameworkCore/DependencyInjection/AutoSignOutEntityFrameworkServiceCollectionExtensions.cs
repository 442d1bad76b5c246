using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the EF Core logout outbox.
/// </summary>
public static class AutoSignOutEntityFrameworkServiceCollectionExtensions
{
    /// <summary>The SQLite connection string used when no provider is configured: <c>Data Source=autosignout-outbox.db</c>.</summary>
    public const string DefaultSqliteConnectionString = "Data Source=autosignout-outbox.db";

    /// <summary>
    /// Stores logout notifications durably in <see cref="AutoSignOutDbContext"/>, replacing the in-memory outbox.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">
    /// Chooses the provider and connection, for example <c>o =&gt; o.UseNpgsql(connectionString)</c>; by default SQLite
    /// with <see cref="DefaultSqliteConnectionString"/>, write-ahead logging and <see cref="SqliteSynchronousNormalInterceptor"/>.
    /// </param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddAutoSignOutEntityFrameworkOutbox(this IServiceCollection services, Action<DbContextOptionsBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddDbContextFactory<AutoSignOutDbContext>(configure ?? (static o => o.UseSqlite(DefaultSqliteConnectionString).AddInterceptors(new SqliteSynchronousNormalInterceptor())));
        return services.AddAutoSignOutEntityFrameworkOutbox<AutoSignOutDbContext>();
    }

    /// <summary>
    /// Stores logout notifications in an application's own context, whose model maps the outbox with
    /// <see cref="LogoutOutboxModel.ApplyAutoSignOutOutbox"/> and whose <see cref="IDbContextFactory{TContext}"/> is
    /// registered; replaces the in-memory outbox.
    /// </summary>
    /// <typeparam name="TContext">The application's context.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddAutoSignOutEntityFrameworkOutbox<TContext>(this IServiceCollection services)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        // Replace, whatever the order of registration: the engine's in-memory default is added with TryAdd.
        services.RemoveAll<ILogoutOutbox>();
        services.AddSingleton<ILogoutOutbox, EntityFrameworkLogoutOutbox<TContext>>();
        return services;
    }

    /// <summary>
    /// Keeps the jti index (<see cref="IIssuedTokenIndex"/>) in <see cref="AutoSignOutDbContext"/>, beside the outbox
    /// registered by <see cref="AddAutoSignOutEntityFrameworkOutbox(IServiceCollection, Action{DbContextOptionsBuilder}?)"/>.
    /// With it, a revocation that names no token ids revokes the live tokens a binding recorded for its session or
    /// subject.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddAutoSignOutEntityFrameworkTokenIndex(this IServiceCollection services)
        => services.AddAutoSignOutEntityFrameworkTokenIndex<AutoSignOutDbContext>();

    /// <summary>
    /// Keeps the jti index in an application's own context, whose model maps it with
    /// <see cref="LogoutOutboxModel.ApplyAutoSignOutIssuedTokenIndex"/>.
    /// </summary>
    /// <typeparam name="TContext">The application's context.</typeparam>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection, for chaining.</returns>
    public static IServiceCollection AddAutoSignOutEntityFrameworkTokenIndex<TContext>(this IServiceCollection services)
        where TContext : DbContext
    {
        ArgumentNullException.ThrowIfNull(services);
        services.RemoveAll<IIssuedTokenIndex>();
        services.AddSingleton<IIssuedTokenIndex, EntityFrameworkIssuedTokenIndex<TContext>>();
        return services;
    }

    /// <summary>
    /// Applies the outbox migrations shipped with this package to the database of <see cref="AutoSignOutDbContext"/>;
    /// on SQLite it also switches the file to write-ahead logging, so readers do not wait for the dispatcher's writes.
    /// </summary>
    /// <param name="services">The application's service provider.</param>
    /// <param name="cancellationToken">Cancels the migration.</param>
    /// <returns>A task that completes when the database is up to date.</returns>
    public static async Task MigrateAutoSignOutOutboxAsync(this IServiceProvider services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        var factory = services.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>();
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        if (db.Database.ProviderName == "Microsoft.EntityFrameworkCore.Sqlite")
        {
            await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
        }
    }
}
