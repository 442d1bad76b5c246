using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>Real databases for outbox tests: a SQLite file per test, or a fresh database on the test PostgreSQL server.</summary>
internal sealed class TestDatabase : IAsyncDisposable
{
    public const string PostgresVariable = "AUTOSIGNOUT_TEST_POSTGRES";

    private readonly Func<Task> _drop;

    private TestDatabase(string name, string connectionString, Action<DbContextOptionsBuilder> use, Func<Task> drop)
    {
        Name = name;
        ConnectionString = connectionString;
        Use = use;
        _drop = drop;
    }

    public string Name { get; }

    public string ConnectionString { get; }

    /// <summary>Points an EF Core options builder at this database.</summary>
    public Action<DbContextOptionsBuilder> Use { get; }

    public static TestDatabase SqliteFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"autosignout-outbox-{Guid.NewGuid():N}.db");
        var connectionString = new SqliteConnectionStringBuilder { DataSource = path, DefaultTimeout = 30 }.ToString();
        return new TestDatabase("SQLite", connectionString, o => o.UseSqlite(connectionString), () =>
        {
            SqliteConnection.ClearAllPools();
            foreach (var file in new[] { path, path + "-wal", path + "-shm" })
            {
                File.Delete(file);
            }

            return Task.CompletedTask;
        });
    }

    /// <summary>A new, empty database on the server named by AUTOSIGNOUT_TEST_POSTGRES; inconclusive when unset.</summary>
    public static async Task<TestDatabase> PostgresAsync()
    {
        var server = Environment.GetEnvironmentVariable(PostgresVariable);
        if (string.IsNullOrEmpty(server))
        {
            Assert.Inconclusive($"{PostgresVariable} is not set: start a server with `eval \"$(bash eng/postgres.sh start)\"` to run the PostgreSQL tests.");
        }

        var name = $"t_{Guid.NewGuid():N}";
        await using (var admin = new NpgsqlConnection(server))
        {
            await admin.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {name}", admin);
            await create.ExecuteNonQueryAsync();
        }

        var connectionString = new NpgsqlConnectionStringBuilder(server) { Database = name, MaxPoolSize = 50 }.ToString();
        return new TestDatabase("PostgreSQL", connectionString, o => o.UseNpgsql(connectionString), async () =>
        {
            NpgsqlConnection.ClearAllPools();
            await using var admin = new NpgsqlConnection(server);
            await admin.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {name} WITH (FORCE)", admin);
            await drop.ExecuteNonQueryAsync();
        });
    }

    public async ValueTask DisposeAsync() => await _drop();
}
