using AutoSignOut.IdentityServer.OpenIddict.EntityFrameworkCore;

namespace Microsoft.EntityFrameworkCore;

/// <summary>Maps the AutoSignOut OpenIddict binding's tables into the IdP's own <see cref="DbContext"/>.</summary>
public static class AutoSignOutOpenIddictModel
{
    /// <summary>The default table name of IdP sessions: <c>AutoSignOutSessions</c>.</summary>
    public const string DefaultSessionsTableName = "AutoSignOutSessions";

    /// <summary>The default table name of session participants: <c>AutoSignOutSessionClients</c>.</summary>
    public const string DefaultSessionClientsTableName = "AutoSignOutSessionClients";

    /// <summary>
    /// Maps everything the binding stores: the IdP sessions, the logout outbox and the jti index. Call it from the
    /// context's <c>OnModelCreating</c> after <c>base.OnModelCreating</c>, then create the tables with your migrations.
    /// </summary>
    /// <param name="modelBuilder">The model builder of the IdP's context.</param>
    /// <param name="schema">The schema, or <see langword="null"/> (the default) for the database's default schema.</param>
    /// <returns>The model builder, for chaining.</returns>
    public static ModelBuilder UseAutoSignOut(this ModelBuilder modelBuilder, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        return modelBuilder
            .ApplyAutoSignOutOutbox(LogoutOutboxModel.DefaultTableName, schema)
            .ApplyAutoSignOutIssuedTokenIndex(LogoutOutboxModel.DefaultIssuedTokensTableName, schema)
            .ApplyAutoSignOutSessions(schema);
    }

    /// <summary>Maps only the IdP session tables.</summary>
    /// <param name="modelBuilder">The model builder of the IdP's context.</param>
    /// <param name="schema">The schema, or <see langword="null"/> (the default) for the database's default schema.</param>
    /// <returns>The model builder, for chaining.</returns>
    public static ModelBuilder ApplyAutoSignOutSessions(this ModelBuilder modelBuilder, string? schema = null)
    {
        ArgumentNullException.ThrowIfNull(modelBuilder);
        modelBuilder.Entity<AutoSignOutSessionEntry>(entry =>
        {
            entry.ToTable(DefaultSessionsTableName, schema);
            entry.HasKey(e => e.SessionId);
            entry.Property(e => e.SessionId).HasMaxLength(100);
            entry.Property(e => e.Subject).HasMaxLength(400).IsRequired();
            entry.HasIndex(e => new { e.Subject, e.EndedAt });
            entry.HasIndex(e => new { e.EndedAt, e.LastActivityAt });
        });
        modelBuilder.Entity<AutoSignOutSessionClientEntry>(entry =>
        {
            entry.ToTable(DefaultSessionClientsTableName, schema);
            entry.HasKey(e => new { e.SessionId, e.ClientId, e.AuthorizationId });
            entry.Property(e => e.SessionId).HasMaxLength(100);
            entry.Property(e => e.ClientId).HasMaxLength(200);
            entry.Property(e => e.AuthorizationId).HasMaxLength(200);
            entry.HasIndex(e => e.AuthorizationId);
        });
        return modelBuilder;
    }
}
