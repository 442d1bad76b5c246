using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// The seam a binding with its own EF Core store uses: the outbox mapped into the IdP's context, notifications
/// written in the same transaction as the revocation.
/// </summary>
[TestClass]
public sealed class TransactionalOutboxTests
{
    [TestMethod]
    public async Task Notifications_commit_with_the_revocation_and_a_rollback_sends_nothing()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)),
            services =>
            {
                services.AddDbContextFactory<IdpDbContext>(database.Use);
                services.AddAutoSignOutEntityFrameworkOutbox<IdpDbContext>();
            },
            start: false);
        var contexts = engine.Services.GetRequiredService<IDbContextFactory<IdpDbContext>>();
        await using (var setup = await contexts.CreateDbContextAsync())
        {
            await setup.Database.EnsureCreatedAsync();
            setup.Grants.AddRange(new Grant { Key = "rolled-back", Subject = "alice" }, new Grant { Key = "committed", Subject = "bob" });
            await setup.SaveChangesAsync();
        }

        await engine.Host.StartAsync();

        await RevokeGrantAsync("rolled-back", commit: false);
        await RevokeGrantAsync("committed", commit: true);
        engine.Services.GetRequiredService<ILogoutDispatchSignal>().Notify();

        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the committed revocation was delivered");
        Assert.AreEqual("bob", receiver.Accepted.Single().Subject);
        await using var check = await contexts.CreateDbContextAsync();
        Assert.AreEqual(1, await check.Grants.CountAsync(), "the rolled-back grant should still exist");
        await Eventually.UntilAsync(async () => (await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");

        async Task RevokeGrantAsync(string key, bool commit)
        {
            await using var db = await contexts.CreateDbContextAsync();
            await using var transaction = await db.Database.BeginTransactionAsync();
            var grant = await db.Grants.SingleAsync(g => g.Key == key);
            db.Grants.Remove(grant);
            var notifications = await engine.Server.CreateNotificationsAsync(new Revocation { Subject = grant.Subject, RevokedTokenIds = [grant.Key], Reason = RevocationReasons.TokenRevoked });
            db.AddLogoutNotifications(notifications);
            await db.SaveChangesAsync();
            if (commit)
            {
                await transaction.CommitAsync();
            }
            else
            {
                await transaction.RollbackAsync();
            }
        }
    }

    /// <summary>An IdP's own store, with the outbox mapped into it.</summary>
    public sealed class IdpDbContext(DbContextOptions<IdpDbContext> options) : DbContext(options)
    {
        public DbSet<Grant> Grants => Set<Grant>();

        protected override void OnModelCreating(ModelBuilder modelBuilder)
        {
            modelBuilder.Entity<Grant>().HasKey(g => g.Key);
            modelBuilder.ApplyAutoSignOutOutbox();
        }
    }

    public sealed class Grant
    {
        public string Key { get; set; } = "";

        public string Subject { get; set; } = "";
    }
}
