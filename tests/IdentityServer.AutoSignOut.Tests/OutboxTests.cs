using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>The EF Core outbox on real databases: a SQLite file and, when available, a PostgreSQL server.</summary>
[TestClass]
public sealed class OutboxTests
{
    public static IEnumerable<object[]> Providers => [["SQLite"], ["PostgreSQL"]];

    private static async Task<TestDatabase> OpenAsync(string provider)
        => provider == "SQLite" ? TestDatabase.SqliteFile() : await TestDatabase.PostgresAsync();

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Shipped_migration_creates_an_outbox_that_round_trips_a_notification(string provider)
    {
        await using var database = await OpenAsync(provider);
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database);
        var outbox = engine.Outbox;
        var now = time.GetUtcNow();
        var notification = NewNotification(now);
        notification.RevokedTokenIds = ["at-1", "rt-1"];
        notification.LogoutToken = "header.payload.signature";
        notification.LogoutTokenExpiresAt = now.AddMinutes(2);

        await outbox.EnqueueAsync([notification], default);
        var leased = await outbox.LeaseDueAsync(10, now, now.AddMinutes(5), default);

        var row = leased.Single();
        Assert.AreEqual(notification.Id, row.Id);
        Assert.AreEqual(notification.Endpoint, row.Endpoint);
        Assert.AreEqual("alice", row.Subject);
        CollectionAssert.AreEqual(new[] { "at-1", "rt-1" }, row.RevokedTokenIds.ToArray());
        Assert.AreEqual(now.ToUnixTimeMilliseconds(), row.CreatedAt.ToUnixTimeMilliseconds());
        Assert.AreEqual("header.payload.signature", row.LogoutToken);
        Assert.IsNotNull(row.LeaseId);
        var migrations = await MigrationsAppliedAsync(engine.Services);
        CollectionAssert.Contains(migrations, "20261124000000_CreateAutoSignOutOutbox");
    }

    [TestMethod]
    public void Shipped_migration_also_scripts_the_outbox_for_sql_server()
    {
        var options = new DbContextOptionsBuilder<AutoSignOutDbContext>().UseSqlServer("Server=unused;Database=unused").Options;
        using var db = new AutoSignOutDbContext(options);

        var script = db.GetService<IMigrator>().GenerateScript();

        StringAssert.Contains(script, "CREATE TABLE [AutoSignOutOutbox]");
        StringAssert.Contains(script, "[Id] uniqueidentifier NOT NULL");
        StringAssert.Contains(script, "[NextAttemptAt] bigint NOT NULL");
        StringAssert.Contains(script, "[ClientId] nvarchar(200) NOT NULL");
        StringAssert.Contains(script, "CREATE INDEX [IX_AutoSignOutOutbox_State_NextAttemptAt]");
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Leases_taken_at_the_same_time_never_share_a_row(string provider)
    {
        await using var database = await OpenAsync(provider);
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database);
        var outbox = engine.Outbox;
        var now = time.GetUtcNow();
        var rows = Enumerable.Range(0, 300).Select(_ => NewNotification(now)).ToList();
        await outbox.EnqueueAsync(rows, default);

        async Task<List<Guid>> TakeAll()
        {
            var mine = new List<Guid>();
            while (true)
            {
                var leased = await outbox.LeaseDueAsync(7, now, now.AddMinutes(5), default);
                if (leased.Count == 0 && (await outbox.GetSnapshotAsync(now, default)).NextDueAt is null)
                {
                    return mine;
                }

                mine.AddRange(leased.Select(n => n.Id));
            }
        }

        var takers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(TakeAll)));

        var all = takers.SelectMany(t => t).ToList();
        Assert.AreEqual(all.Count, all.Distinct().Count(), "a row was leased twice");
        CollectionAssert.AreEquivalent(rows.Select(r => r.Id).ToList(), all);
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Row_whose_lease_ran_out_goes_to_the_next_taker_and_the_old_holder_cannot_touch_it(string provider)
    {
        await using var database = await OpenAsync(provider);
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database);
        var outbox = engine.Outbox;
        var now = time.GetUtcNow();
        await outbox.EnqueueAsync([NewNotification(now)], default);

        var first = (await outbox.LeaseDueAsync(1, now, now.AddMinutes(5), default)).Single();
        Assert.AreEqual(0, (await outbox.LeaseDueAsync(1, now.AddMinutes(4), now.AddMinutes(9), default)).Count);
        var second = (await outbox.LeaseDueAsync(1, now.AddMinutes(6), now.AddMinutes(11), default)).Single();
        await outbox.CompleteAsync([first], default);

        Assert.AreEqual(1, (await outbox.GetSnapshotAsync(now.AddMinutes(6), default)).PendingCount, "a stale lease completed the row");
        await outbox.CompleteAsync([second], default);
        Assert.AreEqual(0, (await outbox.GetSnapshotAsync(now.AddMinutes(6), default)).PendingCount);
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Snapshot_reports_depth_age_next_due_and_dead_letters(string provider)
    {
        await using var database = await OpenAsync(provider);
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database);
        var outbox = engine.Outbox;
        var now = time.GetUtcNow();
        var old = NewNotification(now.AddMinutes(-10));
        var later = NewNotification(now);
        later.NextAttemptAt = now.AddSeconds(30);
        var doomed = NewNotification(now);
        await outbox.EnqueueAsync([old, later, doomed], default);
        var leased = await outbox.LeaseDueAsync(10, now, now.AddMinutes(5), default);
        var toKill = leased.Single(n => n.Id == doomed.Id);
        toKill.LastError = "gone";
        await outbox.DeadLetterAsync(toKill, default);
        var toRetry = leased.Single(n => n.Id == old.Id);
        toRetry.NextAttemptAt = now.AddSeconds(10);
        toRetry.Attempts = 3;
        await outbox.RescheduleAsync(toRetry, default);

        var snapshot = await outbox.GetSnapshotAsync(now, default);

        Assert.AreEqual(2, snapshot.PendingCount);
        Assert.AreEqual(1, snapshot.DeadLetteredCount);
        Assert.AreEqual(now.AddMinutes(-10).ToUnixTimeMilliseconds(), snapshot.OldestPendingCreatedAt!.Value.ToUnixTimeMilliseconds());
        Assert.AreEqual(now.AddSeconds(10).ToUnixTimeMilliseconds(), snapshot.NextDueAt!.Value.ToUnixTimeMilliseconds());
    }

    internal static LogoutNotification NewNotification(DateTimeOffset now) => new()
    {
        Id = Guid.CreateVersion7(),
        ClientId = "client1",
        Endpoint = new Uri("http://127.0.0.1:9/signout-backchannel"),
        Subject = "alice",
        SessionId = "session-1",
        Reason = RevocationReasons.Logout,
        CreatedAt = now,
        NextAttemptAt = now,
    };

    private static async Task<List<string>> MigrationsAppliedAsync(IServiceProvider services)
    {
        var factory = services.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>();
        await using var db = await factory.CreateDbContextAsync();
        return [.. await db.Database.GetAppliedMigrationsAsync()];
    }
}
