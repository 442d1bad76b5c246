using System.Data.Common;
using Microsoft.EntityFrameworkCore.Diagnostics;

namespace AutoSignOut.IdentityServer.EntityFrameworkCore;

/// <summary>
/// Sets <c>PRAGMA synchronous=NORMAL</c> on every SQLite connection the outbox opens. With write-ahead logging (which
/// <c>MigrateAutoSignOutOutboxAsync</c> turns on) a commit then survives the process being killed, but not the
/// machine losing power before the next checkpoint; in exchange commits no longer wait for the disk. The default
/// SQLite registration uses it; add it yourself with <c>o.UseSqlite(…).AddInterceptors(new SqliteSynchronousNormalInterceptor())</c>,
/// or leave it out to keep SQLite's <c>FULL</c> default.
/// </summary>
public sealed class SqliteSynchronousNormalInterceptor : DbConnectionInterceptor
{
    /// <inheritdoc/>
    public override void ConnectionOpened(DbConnection connection, ConnectionEndEventData eventData)
    {
        ArgumentNullException.ThrowIfNull(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA synchronous=NORMAL;";
        command.ExecuteNonQuery();
    }

    /// <inheritdoc/>
    public override async Task ConnectionOpenedAsync(DbConnection connection, ConnectionEndEventData eventData, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = "PRAGMA synchronous=NORMAL;";
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
