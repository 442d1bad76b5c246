using AutoSignOut.IdentityProvider;
using AutoSignOut.IdentityProvider.Data;
using Duende.IdentityServer.EntityFramework.DbContexts;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Storage;

namespace AutoSignOut.IdentityServerHost.Data;

/// <summary>Creates the tables of the one SQLite database and the demo users; the client is configured in memory (<see cref="DemoClients"/>).</summary>
public static class IdentityServerSeeder
{
    /// <summary>
    /// Creates what is missing of the database — AutoSignOut's outbox and jti index (its migrations), Identity's and
    /// Duende's operational store's tables — then (when <c>Seed:Enabled</c>) the seeded users that do not exist yet.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var provider = scope.ServiceProvider;
        var settings = provider.GetRequiredService<IdentityProviderSettings>();

        var users = provider.GetRequiredService<UsersDbContext>();
        if (users.Database.GetDbConnection().DataSource is { Length: > 0 } file && Path.GetDirectoryName(Path.GetFullPath(file)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }

        if (settings.AutoSignOutEnabled)
        {
            await services.MigrateAutoSignOutOutboxAsync(cancellationToken);
        }

        // Several contexts, one file: EnsureCreated would stop at the first one, so each creates its own tables.
        await CreateTablesAsync(users, "AspNetUsers", cancellationToken);
        await CreateTablesAsync(provider.GetRequiredService<PersistedGrantDbContext>(), "PersistedGrants", cancellationToken);
        await users.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);

        if (settings.SeedEnabled)
        {
            await DemoUserSeeder.SeedUsersAsync(provider, settings.SeedUsers);
        }
    }

    private static async Task CreateTablesAsync(DbContext db, string probeTable, CancellationToken cancellationToken)
    {
        var exists = await db.Database.SqlQuery<int>($"SELECT COUNT(*) AS Value FROM sqlite_master WHERE type = 'table' AND name = {probeTable}").SingleAsync(cancellationToken);
        if (exists == 0)
        {
            await db.GetService<IRelationalDatabaseCreator>().CreateTablesAsync(cancellationToken);
        }
    }
}
