using System.Collections.Concurrent;
using System.Diagnostics;
using AutoSignOut.IdentityServer.Tests.Infrastructure;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// The engine in a process of its own (tests/CrashHost) on a SQLite outbox, killed with SIGKILL while deliveries are
/// in flight and rows wait for a client that is down, then started again on the same database. No notification may
/// be lost; a duplicate is allowed (the client applies a logout idempotently). Recovery times are printed, not
/// asserted: they are figures for the engine README, and the machine is shared.
/// </summary>
[TestClass]
public sealed class CrashTests
{
    private const string Instance = "crash-host-a";

    public TestContext TestContext { get; set; } = null!;

    [TestMethod]
    public async Task Engine_killed_with_deliveries_in_flight_and_a_client_down_loses_no_notification_after_restart()
    {
        var folder = Directory.CreateTempSubdirectory("autosignout-crash-");
        try
        {
            var database = Path.Combine(folder.FullName, "outbox.db");
            var slowMode = 1;
            await using var slow = await LoopbackReceiver.StartAsync(async (_, _) =>
            {
                if (Volatile.Read(ref slowMode) == 1)
                {
                    await Task.Delay(TimeSpan.FromSeconds(2));
                }

                return 200;
            });
            await using var healthy = await LoopbackReceiver.StartAsync();
            var downPort = LoopbackReceiver.FreePort();
            (string, Uri)[] clients =
            [
                ("down", new Uri($"http://127.0.0.1:{downPort}/signout-backchannel")),
                ("slow", slow.Endpoint),
                ("healthy", healthy.Endpoint),
            ];
            const int perClient = 16;
            long killedAt;
            await using (var first = await CrashHostProcess.StartAsync(database, Instance, clients))
            {
                for (var i = 0; i < perClient; i++)
                {
                    await first.RevokeAsync($"down-{i}", "down");
                    await first.RevokeAsync($"slow-{i}", "slow");
                    await first.RevokeAsync($"healthy-{i}", "healthy");
                }

                // Eight deliveries to the slow client are in flight (its per-endpoint limit), eight wait behind them,
                // and the down client's rows have failed and wait for their retry.
                await Eventually.UntilAsync(() => slow.Requests >= 8, "deliveries to the slow client are in flight");
                await first.KillAsync();
                killedAt = Stopwatch.GetTimestamp();
            }

            var sentBeforeKill = slow.Requests;
            await using var second = await CrashHostProcess.StartAsync(database, Instance, clients);
            Volatile.Write(ref slowMode, 0);
            await using var down = await LoopbackReceiver.StartOnPortAsync(downPort);

            var receivers = new (string Client, LoopbackReceiver Receiver)[] { ("down", down), ("slow", slow), ("healthy", healthy) };
            await Eventually.UntilAsync(() => receivers.All(r => Sessions(r.Receiver).Count == perClient), "every notification arrived after the restart", wallTimeout: TimeSpan.FromSeconds(90));
            var recovery = Stopwatch.GetElapsedTime(killedAt);

            foreach (var (client, receiver) in receivers)
            {
                var seen = Sessions(receiver);
                CollectionAssert.AreEquivalent(Enumerable.Range(0, perClient).Select(i => $"{client}-{i}").ToList(), seen.Keys.ToList(), $"{client}: lost notifications");
            }

            var duplicates = receivers.Sum(r => Sessions(r.Receiver).Values.Sum(n => n - 1));
            TestContext.WriteLine($"kill -> all {3 * perClient} delivered: {recovery.TotalSeconds:F1} s (same instance name; {sentBeforeKill} requests to the slow client before the kill; {duplicates} duplicate deliveries)");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    /// <summary>
    /// Item 11: a restart under the same <see cref="AutoSignOutServerOptions.InstanceName"/> reclaims the dead
    /// process's leases at once; under a new name the rows wait for their leases to run out (30 s in the crash host,
    /// 5 minutes by default).
    /// </summary>
    [TestMethod]
    [DataRow(true)]
    [DataRow(false)]
    public async Task Kill_to_all_delivered_with_the_same_or_a_new_instance_name(bool sameName)
    {
        var folder = Directory.CreateTempSubdirectory("autosignout-crash-");
        try
        {
            var database = Path.Combine(folder.FullName, "outbox.db");
            var slowMode = 1;
            await using var slow = await LoopbackReceiver.StartAsync(async (_, _) =>
            {
                if (Volatile.Read(ref slowMode) == 1)
                {
                    await Task.Delay(TimeSpan.FromSeconds(2));
                }

                return 200;
            });
            (string, Uri)[] clients = [("slow", slow.Endpoint)];
            const int sessions = 16;
            long killedAt;
            await using (var first = await CrashHostProcess.StartAsync(database, Instance, clients))
            {
                for (var i = 0; i < sessions; i++)
                {
                    await first.RevokeAsync($"slow-{i}", "slow");
                }

                await Eventually.UntilAsync(() => slow.Requests >= 8, "deliveries are in flight");
                await first.KillAsync();
                killedAt = Stopwatch.GetTimestamp();
            }

            Volatile.Write(ref slowMode, 0);
            await using var second = await CrashHostProcess.StartAsync(database, sameName ? Instance : "crash-host-b", clients);
            await Eventually.UntilAsync(() => Sessions(slow).Count == sessions, "every notification arrived after the restart", wallTimeout: TimeSpan.FromSeconds(120));
            var recovery = Stopwatch.GetElapsedTime(killedAt);
            CollectionAssert.AreEquivalent(Enumerable.Range(0, sessions).Select(i => $"slow-{i}").ToList(), Sessions(slow).Keys.ToList());
            var name = sameName ? "same instance name" : "new instance name";
            TestContext.WriteLine($"kill -> all {sessions} delivered, {name}: {recovery.TotalSeconds:F1} s");
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            folder.Delete(recursive: true);
        }
    }

    /// <summary>How many times each session's logout token reached the receiver.</summary>
    private static Dictionary<string, int> Sessions(LoopbackReceiver receiver)
        => receiver.Accepted.GroupBy(t => t.GetClaim("sid").Value).ToDictionary(g => g.Key, g => g.Count());
}
