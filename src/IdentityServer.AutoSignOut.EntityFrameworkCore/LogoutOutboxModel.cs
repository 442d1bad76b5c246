using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>
/// Maps the logout outbox into a model, so that an IdP's own <see cref="DbContext"/> can hold it and store
/// notifications in the same transaction as the revocation.
/// </summary>
public static class LogoutOutboxModel
{
    /// <summary>The default table name: <c>AutoSignOutOutbox</c>.</summary>
    public const string DefaultTableName = "AutoSignOutOutbox";

    /// <summary>The default table name of the jti index: <c>AutoSignOutIssuedTokens</c>.</summary>
    public const string DefaultIssuedTokensTableName = "AutoSignOutIssuedTokens";

    /// <summary>Maps <see cref="LogoutOutboxEntry"/> to the outbox table.</summary>
    /// <param name="modelBuilder">The model builder of the context.</param>
    /// <param name="tableName">The table name; default <see cref="DefaultTableName"/>.</param>
    /// <param name="schema">The schema, or <see langword="null"/> (the default) for the database's default schema.</param>
    /// <returns>The model builder, for chaining.</returns>
    public static ModelBuilder ApplyAutoSignOutOutbox(this ModelBuilder modelBuilder, string tableName = DefaultTableName, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<LogoutOutboxEntry>(entry =>
        {
            // Column types are left to the provider (no HasColumnType): the same model, and the same migration, serve
            // SQLite, PostgreSQL and SQL Server.
            entry.ToTable(tableName, schema);
            entry.HasKey(e => e.Id);
            entry.Property(e => e.Id).ValueGeneratedNever();
            entry.Property(e => e.ClientId).HasMaxLength(LogoutNotification.MaxClientIdLength).IsRequired();
            entry.Property(e => e.Endpoint).HasMaxLength(LogoutNotification.MaxEndpointLength).IsRequired();
            entry.Property(e => e.Subject).HasMaxLength(LogoutNotification.MaxSubjectLength);
            entry.Property(e => e.SessionId).HasMaxLength(LogoutNotification.MaxSubjectLength);
            entry.Property(e => e.Reason).HasMaxLength(LogoutNotification.MaxReasonLength).IsRequired();
            entry.Property(e => e.LastError).HasMaxLength(1000);
            entry.Property(e => e.LeaseOwner).HasMaxLength(LogoutOutboxEntryMapper.MaxLeaseOwnerLength);
            // The dispatcher's lease query: pending rows by due time.
            entry.HasIndex(e => new { e.State, e.NextAttemptAt });
            entry.HasIndex(e => e.LeaseId);
            // A restarting instance takes back its own leases.
            entry.HasIndex(e => e.LeaseOwner);
        });
        return modelBuilder;
    }

    /// <summary>Maps <see cref="IssuedTokenEntry"/> (the jti index) to its table.</summary>
    /// <param name="modelBuilder">The model builder of the context.</param>
    /// <param name="tableName">The table name; default <see cref="DefaultIssuedTokensTableName"/>.</param>
    /// <param name="schema">The schema, or <see langword="null"/> (the default) for the database's default schema.</param>
    /// <returns>The model builder, for chaining.</returns>
    public static ModelBuilder ApplyAutoSignOutIssuedTokenIndex(this ModelBuilder modelBuilder, string tableName = DefaultIssuedTokensTableName, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<IssuedTokenEntry>(entry =>
        {
            entry.ToTable(tableName, schema);
            entry.HasKey(e => e.TokenId);
            entry.Property(e => e.TokenId).HasMaxLength(200);
            entry.Property(e => e.ClientId).HasMaxLength(200).IsRequired();
            entry.Property(e => e.Subject).HasMaxLength(200);
            entry.Property(e => e.SessionId).HasMaxLength(200);
            entry.HasIndex(e => e.Subject);
            entry.HasIndex(e => e.SessionId);
            entry.HasIndex(e => e.ExpiresAt);
        });
        return modelBuilder;
    }
}
