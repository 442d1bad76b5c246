using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore.Migrations;

/// <summary>
/// Stores who holds a lease (so a restarting instance takes its own rows back at once) and the counters the retry
/// schedule backs off on. Like the first migration, without store types: one migration for every provider.
/// </summary>
[DbContext(typeof(AutoSignOutDbContext))]
[Migration("20261201000000_LeaseOwnerAndDispatchCounts")]
public sealed class LeaseOwnerAndDispatchCounts : Migration
{
    /// <inheritdoc/>
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        migrationBuilder.AddColumn<string>(name: "LeaseOwner", table: "AutoSignOutOutbox", maxLength: 200, nullable: true);
        migrationBuilder.AddColumn<int>(name: "FailedDispatches", table: "AutoSignOutOutbox", nullable: false, defaultValue: 0);
        migrationBuilder.AddColumn<int>(name: "TokenRejections", table: "AutoSignOutOutbox", nullable: false, defaultValue: 0);
        migrationBuilder.CreateIndex(name: "IX_AutoSignOutOutbox_LeaseOwner", table: "AutoSignOutOutbox", column: "LeaseOwner");
    }

    /// <inheritdoc/>
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        migrationBuilder.DropIndex(name: "IX_AutoSignOutOutbox_LeaseOwner", table: "AutoSignOutOutbox");
        migrationBuilder.DropColumn(name: "LeaseOwner", table: "AutoSignOutOutbox");
        migrationBuilder.DropColumn(name: "FailedDispatches", table: "AutoSignOutOutbox");
        migrationBuilder.DropColumn(name: "TokenRejections", table: "AutoSignOutOutbox");
    }
}
