using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore.Migrations;

/// <summary>
/// The model as the migrations leave it, which EF compares with the current model to scaffold the next migration
/// (<c>dotnet ef migrations add</c>) and to detect drift. Kept without store types, like the migrations, so that it
/// holds for SQLite, PostgreSQL and SQL Server alike; a test checks that no provider sees pending model changes.
/// </summary>
[DbContext(typeof(AutoSignOutDbContext))]
internal sealed class AutoSignOutDbContextModelSnapshot : ModelSnapshot
{
    protected override void BuildModel(ModelBuilder modelBuilder)
    {
        modelBuilder.HasAnnotation("ProductVersion", "10.0.15");

        modelBuilder.Entity("AutoSignOut.IdentityServer.EntityFrameworkCore.IssuedTokenEntry", b =>
        {
            b.Property<string>("TokenId").HasMaxLength(200);
            b.Property<string>("ClientId").IsRequired().HasMaxLength(200);
            b.Property<long>("ExpiresAt");
            b.Property<string>("SessionId").HasMaxLength(200);
            b.Property<string>("Subject").HasMaxLength(200);
            b.HasKey("TokenId");
            b.HasIndex("ExpiresAt");
            b.HasIndex("SessionId");
            b.HasIndex("Subject");
            b.ToTable("AutoSignOutIssuedTokens");
        });

        modelBuilder.Entity("AutoSignOut.IdentityServer.EntityFrameworkCore.LogoutOutboxEntry", b =>
        {
            b.Property<Guid>("Id");
            b.Property<int>("Attempts");
            b.Property<string>("ClientId").IsRequired().HasMaxLength(200);
            b.Property<long>("CreatedAt");
            b.Property<string>("Endpoint").IsRequired().HasMaxLength(2000);
            b.Property<int>("FailedDispatches");
            b.Property<string>("LastError").HasMaxLength(1000);
            b.Property<long?>("LeaseExpiresAt");
            b.Property<Guid?>("LeaseId");
            b.Property<string>("LeaseOwner").HasMaxLength(200);
            b.Property<string>("LogoutToken");
            b.Property<long?>("LogoutTokenExpiresAt");
            b.Property<long>("NextAttemptAt");
            b.Property<string>("Reason").IsRequired().HasMaxLength(100);
            b.Property<string>("RevokedTokenIds");
            b.Property<string>("SessionId").HasMaxLength(200);
            b.Property<int>("State");
            b.Property<string>("Subject").HasMaxLength(200);
            b.Property<int>("TokenRejections");
            b.HasKey("Id");
            b.HasIndex("LeaseId");
            b.HasIndex("LeaseOwner");
            b.HasIndex("State", "NextAttemptAt");
            b.ToTable("AutoSignOutOutbox");
        });
    }
}
