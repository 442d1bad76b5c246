using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using Duende.IdentityServer.EntityFramework.DbContexts;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// With Duende's EF operational store and the outbox in the same database, a revocation's notifications commit in the
/// transaction of Duende's deletion: a rollback sends nothing and keeps the grants; a commit always has its notifications.
/// </summary>
[TestClass]
public sealed class OperationalStoreTransactionTests
{
    private static Stack _stack = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) => _stack = await Stack.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _stack.DisposeAsync();

    [TestMethod]
    public async Task Grants_removed_in_a_callers_transaction_that_rolls_back_stay_and_nothing_is_sent()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");

        await RemoveAllGrantsInCallersTransactionAsync(alice.User.Name, commit: false);

        Assert.IsTrue(await GrantCountAsync(alice.User.Name) > 0, "the grants are still there");
        Assert.AreEqual(0, await OutboxRowsAsync(alice.User.Name), "no notification was stored");
        await Task.Delay(TimeSpan.FromSeconds(1));
        await alice.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Grants_removed_in_a_callers_transaction_that_commits_close_the_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");

        await RemoveAllGrantsInCallersTransactionAsync(alice.User.Name, commit: true);

        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
        Assert.AreEqual(0, await GrantCountAsync(alice.User.Name), "the grants are gone");
    }

    [TestMethod]
    public async Task A_failure_after_Duendes_deletion_and_before_the_commit_keeps_the_grants_and_stores_nothing()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => _stack.Idp.InScopeAsync(async s =>
        {
            using (FailingOutboxWrites.Begin())
            {
                await s.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(alice.User.Name);
            }

            return 0;
        }));

        Assert.IsTrue(await GrantCountAsync(alice.User.Name) > 0, "Duende's deletion was rolled back with the failed outbox write");
        Assert.AreEqual(0, await OutboxRowsAsync(alice.User.Name), "no notification was stored");
        await alice.AssertStillLiveAsync();

        // The same removal again, without the failure, is a whole revocation.
        await _stack.Idp.InScopeAsync(async s =>
        {
            await s.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(alice.User.Name);
            return 0;
        });
        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
    }

    [TestMethod]
    public async Task Admin_session_removal_that_fails_before_the_commit_keeps_the_session_and_its_grants()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");

        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => _stack.Idp.InScopeAsync(async s =>
        {
            using (FailingOutboxWrites.Begin())
            {
                await s.GetRequiredService<ISessionManagementService>().RemoveSessionsAsync(new RemoveSessionsContext { SubjectId = alice.User.Name });
            }

            return 0;
        }));

        Assert.IsTrue(await GrantCountAsync(alice.User.Name) > 0, "the grants are still there");
        var sessions = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IServerSideSessionStore>().GetSessionsAsync(new SessionFilter { SubjectId = alice.User.Name }));
        Assert.AreEqual(1, sessions.Count, "the server-side session is still there");
        Assert.IsTrue(await alice.User.IdpCookieAcceptedAsync(), "the IdP session goes on");
        await alice.AssertStillLiveAsync();
    }

    /// <summary>Admin code that removes a user's grants inside its own transaction on Duende's context.</summary>
    private static Task RemoveAllGrantsInCallersTransactionAsync(string subject, bool commit) => _stack.Idp.InScopeAsync(async s =>
    {
        await using var transaction = await s.GetRequiredService<PersistedGrantDbContext>().Database.BeginTransactionAsync();
        await s.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(subject);
        await (commit ? transaction.CommitAsync() : transaction.RollbackAsync());
        return 0;
    });

    private static Task<int> GrantCountAsync(string subject) =>
        _stack.Idp.InScopeAsync(async s => (await s.GetRequiredService<IPersistedGrantStore>().GetAllAsync(new PersistedGrantFilter { SubjectId = subject })).Count());

    private static async Task<long> OutboxRowsAsync(string subject)
    {
        await using var connection = new SqliteConnection(_stack.Idp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM AutoSignOutOutbox WHERE Subject = $subject";
        command.Parameters.AddWithValue("$subject", subject);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
