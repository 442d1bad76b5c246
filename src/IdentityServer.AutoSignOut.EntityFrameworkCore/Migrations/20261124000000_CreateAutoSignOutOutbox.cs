using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore.Migrations;

/// <summary>
/// Creates the logout outbox and jti index tables. Written by hand without store types: each provider (SQLite, PostgreSQL,
/// SQL Server) maps the CLR types itself, so one migration serves all three.
/// </summary>
[DbContext(typeof(AutoSignOutDbContext))]
[Migration("20261124000000_CreateAutoSignOutOutbox")]
public sealed class CreateAutoSignOutOutbox : Migration
{
    /// <inheritdoc/>
    protected override void Up(MigrationBuilder migrationBuilder)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        migrationBuilder.CreateTable(
            name: "AutoSignOutOutbox",
            columns: table => new
            {
                Id = table.Column<Guid>(nullable: false),
                ClientId = table.Column<string>(maxLength: 200, nullable: false),
                Endpoint = table.Column<string>(maxLength: 2000, nullable: false),
                Subject = table.Column<string>(maxLength: 200, nullable: true),
                SessionId = table.Column<string>(maxLength: 200, nullable: true),
                Reason = table.Column<string>(maxLength: 100, nullable: false),
                RevokedTokenIds = table.Column<string>(nullable: true),
                LogoutToken = table.Column<string>(nullable: true),
                LogoutTokenExpiresAt = table.Column<long>(nullable: true),
                CreatedAt = table.Column<long>(nullable: false),
                NextAttemptAt = table.Column<long>(nullable: false),
                Attempts = table.Column<int>(nullable: false),
                LastError = table.Column<string>(maxLength: 1000, nullable: true),
                State = table.Column<int>(nullable: false),
                LeaseId = table.Column<Guid>(nullable: true),
                LeaseExpiresAt = table.Column<long>(nullable: true),
            },
            constraints: table => table.PrimaryKey("PK_AutoSignOutOutbox", x => x.Id));

        migrationBuilder.CreateIndex(
            name: "IX_AutoSignOutOutbox_State_NextAttemptAt",
            table: "AutoSignOutOutbox",
            columns: ["State", "NextAttemptAt"]);

        migrationBuilder.CreateIndex(
            name: "IX_AutoSignOutOutbox_LeaseId",
            table: "AutoSignOutOutbox",
            column: "LeaseId");

        migrationBuilder.CreateTable(
            name: "AutoSignOutIssuedTokens",
            columns: table => new
            {
                TokenId = table.Column<string>(maxLength: 200, nullable: false),
                ClientId = table.Column<string>(maxLength: 200, nullable: false),
                Subject = table.Column<string>(maxLength: 200, nullable: true),
                SessionId = table.Column<string>(maxLength: 200, nullable: true),
                ExpiresAt = table.Column<long>(nullable: false),
            },
            constraints: table => table.PrimaryKey("PK_AutoSignOutIssuedTokens", x => x.TokenId));

        migrationBuilder.CreateIndex(name: "IX_AutoSignOutIssuedTokens_Subject", table: "AutoSignOutIssuedTokens", column: "Subject");
        migrationBuilder.CreateIndex(name: "IX_AutoSignOutIssuedTokens_SessionId", table: "AutoSignOutIssuedTokens", column: "SessionId");
        migrationBuilder.CreateIndex(name: "IX_AutoSignOutIssuedTokens_ExpiresAt", table: "AutoSignOutIssuedTokens", column: "ExpiresAt");
    }

    /// <inheritdoc/>
    protected override void Down(MigrationBuilder migrationBuilder)
    {
        ArgumentNullException.ThrowIfNull(migrationBuilder);
        migrationBuilder.DropTable(name: "AutoSignOutIssuedTokens");
        migrationBuilder.DropTable(name: "AutoSignOutOutbox");
    }
}
