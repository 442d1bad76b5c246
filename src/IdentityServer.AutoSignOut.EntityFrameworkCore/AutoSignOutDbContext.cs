using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// A context holding the logout outbox and the jti index, with their migrations in this package. Use it when the outbox lives on
/// its own; map the outbox into the IdP's own context with <see cref="LogoutOutboxModel.ApplyAutoSignOutOutbox"/>
/// to share its transactions instead.
/// </summary>
public class AutoSignOutDbContext : DbContext
{
    /// <summary>Creates the context.</summary>
    /// <param name="options">The context options (provider and connection).</param>
    public AutoSignOutDbContext(DbContextOptions<AutoSignOutDbContext> options)
        : base(options)
    {
    }

    /// <summary>The outbox rows.</summary>
    public DbSet<LogoutOutboxEntry> LogoutOutbox => Set<LogoutOutboxEntry>();

    /// <summary>The jti index rows.</summary>
    public DbSet<IssuedTokenEntry> IssuedTokens => Set<IssuedTokenEntry>();

    /// <inheritdoc/>
    protected override void OnModelCreating(ModelBuilder modelBuilder) => modelBuilder.ApplyAutoSignOutOutbox().ApplyAutoSignOutIssuedTokenIndex();
}
