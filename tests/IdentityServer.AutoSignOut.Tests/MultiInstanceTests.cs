using System.Collections.Concurrent;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>IdP processes that stop hard or share one outbox database.</summary>
[TestClass]
public sealed class MultiInstanceTests
{
    [TestMethod]
    public async Task Host_stopped_hard_with_rows_pending_leaves_them_to_a_new_host_on_the_same_database()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        // The first host's requests never get an answer before it goes away.
        await using var receiver = await HangingReceiver.StartAsync();
        void Clients(AutoSignOutServerOptions o) => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));

        CrashSwitch? crashable = null;
        var first = await EngineHost.CreateAsync(time, Clients, services => crashable = CrashableOutbox.Install(services), database: database);
        for (var i = 0; i < 5; i++)
        {
            await first.Server.SignOutSessionAsync($"session-{i}");
        }

        await Eventually.UntilAsync(() => receiver.Inner.Requests == 5, "the first host is mid-delivery");
        // "kill -9": from here on nothing the first host does reaches the database, and it drains nothing.
        crashable!.Crash();
        await first.DisposeAsync();
        receiver.Recover();

        await using var second = await EngineHost.CreateAsync(time, Clients, database: database);

        // The dead host's leases must run out before anyone else may deliver its rows; fake time gets there fast.
        await Eventually.UntilAsync(() => receiver.Inner.Accepted.Count == 5, "the new host delivered every row", time, TimeSpan.FromSeconds(10));
        CollectionAssert.AreEquivalent(
            Enumerable.Range(0, 5).Select(i => $"session-{i}").ToArray(),
            receiver.Inner.Accepted.Select(t => t.GetClaim("sid").Value).ToArray());
        await Eventually.UntilAsync(async () => (await second.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");
    }

    [TestMethod]
    public async Task Host_stopped_gracefully_gives_its_rows_back_at_once_instead_of_waiting_for_the_lease()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        // The first host's requests never get an answer before it goes away.
        await using var receiver = await HangingReceiver.StartAsync();
        void Clients(AutoSignOutServerOptions o) => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
        var first = await EngineHost.CreateAsync(time, Clients, database: database);
        for (var i = 0; i < 3; i++)
        {
            await first.Server.SignOutSessionAsync($"session-{i}");
        }

        await Eventually.UntilAsync(() => receiver.Inner.Requests == 3, "the first host is mid-delivery");

        await first.DisposeAsync();
        receiver.Recover();
        await using var second = await EngineHost.CreateAsync(time, Clients, database: database);

        // Fake time stands still: only rows handed back at shutdown can be delivered now.
        await Eventually.UntilAsync(() => receiver.Inner.Accepted.Count == 3, "the new host delivered every row at once");
    }

    [TestMethod]
    public async Task Two_engines_on_one_postgresql_database_deliver_every_row_and_never_one_twice_at_once()
    {
        await using var database = await TestDatabase.PostgresAsync();
        var time = EngineHost.NewClock();
        var inFlight = new ConcurrentDictionary<string, int>();
        var deliveries = new ConcurrentDictionary<string, int>();
        var overlaps = 0;
        await using var receiver = await LoopbackReceiver.StartAsync(async (_, token) =>
        {
            var sid = token.GetClaim("sid").Value;
            if (inFlight.AddOrUpdate(sid, 1, (_, n) => n + 1) > 1)
            {
                Interlocked.Increment(ref overlaps);
            }

            await Task.Delay(2);
            inFlight.AddOrUpdate(sid, 0, (_, n) => n - 1);
            deliveries.AddOrUpdate(sid, 1, (_, n) => n + 1);
            return 200;
        });
        Action<AutoSignOutServerOptions> Clients(string name) => o =>
        {
            o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
            o.MaxConcurrentDeliveries = 16;
            // Two instances in one process would share the default name (machine and process id), and the second
            // one's start-up would take back the first one's live leases as its own: each gets a name of its own.
            o.InstanceName = name;
        };

        await using var a = await EngineHost.CreateAsync(time, Clients("idp-a"), database: database);
        await using var b = await EngineHost.CreateAsync(time, Clients("idp-b"), database: database);

        // Rows written as a binding would, inside its own transaction: both instances race to lease them.
        var shared = new List<LogoutNotification>();
        for (var i = 0; i < 200; i++)
        {
            shared.AddRange(await a.Server.CreateNotificationsAsync(new Revocation { Subject = "alice", SessionId = $"shared-{i}" }));
        }

        await a.Outbox.EnqueueAsync(shared, default);
        a.Services.GetRequiredService<ILogoutDispatchSignal>().Notify();
        b.Services.GetRequiredService<ILogoutDispatchSignal>().Notify();
        // And sign-outs arriving at each instance.
        await Task.WhenAll(
            Task.Run(async () => { for (var i = 0; i < 50; i++) { await a.Server.SignOutSessionAsync($"a-{i}"); } }),
            Task.Run(async () => { for (var i = 0; i < 50; i++) { await b.Server.SignOutSessionAsync($"b-{i}"); } }));

        // Time passes (in small steps, far from any lease or timeout) so that polls and short pauses happen.
        await Eventually.UntilAsync(() => deliveries.Count == 300, "every row was delivered", time, TimeSpan.FromMilliseconds(50), TimeSpan.FromSeconds(60));
        await Eventually.UntilAsync(async () => (await a.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");
        Assert.AreEqual(0, overlaps, "a row was delivered twice at the same time");
        Assert.AreEqual(0, deliveries.Count(d => d.Value > 1), "a row was delivered twice");
    }

    /// <summary>A receiver that leaves every request hanging until <see cref="Recover"/>, then accepts.</summary>
    private sealed class HangingReceiver : IAsyncDisposable
    {
        private readonly CancellationTokenSource _hang = new();
        private volatile bool _answering;

        private HangingReceiver()
        {
        }

        public LoopbackReceiver Inner { get; private set; } = null!;

        public Uri Endpoint => Inner.Endpoint;

        public static async Task<HangingReceiver> StartAsync()
        {
            var self = new HangingReceiver();
            self.Inner = await LoopbackReceiver.StartAsync(async (_, _) =>
            {
                if (self._answering)
                {
                    return 200;
                }

                await Task.Delay(Timeout.Infinite, self._hang.Token).ContinueWith(_ => { });
                return 503;
            });
            return self;
        }

        public void Recover()
        {
            _answering = true;
            _hang.Cancel();
        }

        public async ValueTask DisposeAsync()
        {
            _hang.Cancel();
            await Inner.DisposeAsync();
            _hang.Dispose();
        }
    }

    /// <summary>
    /// Stands in for a process that dies: once crashed, none of the host's writes reach the database. (A fake, because
    /// killing a test host's process would kill the test run.)
    /// </summary>
    private sealed class CrashableOutbox(ILogoutOutbox inner, CrashSwitch crash) : ILogoutOutbox
    {
        public static CrashSwitch Install(IServiceCollection services)
        {
            var crash = new CrashSwitch();
            services.RemoveAll<ILogoutOutbox>();
            services.AddSingleton<ILogoutOutbox>(sp => new CrashableOutbox(ActivatorUtilities.CreateInstance<EntityFrameworkLogoutOutbox<AutoSignOutDbContext>>(sp), crash));
            return crash;
        }

        public ValueTask EnqueueAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
            => crash.Crashed ? Dead() : inner.EnqueueAsync(notifications, cancellationToken);

        public ValueTask<IReadOnlyList<LogoutNotification>> LeaseDueAsync(int maxCount, DateTimeOffset now, DateTimeOffset leaseExpiresAt, CancellationToken cancellationToken)
            => crash.Crashed ? ValueTask.FromException<IReadOnlyList<LogoutNotification>>(new IOException("the process is gone")) : inner.LeaseDueAsync(maxCount, now, leaseExpiresAt, cancellationToken);

        public ValueTask CompleteAsync(IReadOnlyList<LogoutNotification> notifications, CancellationToken cancellationToken)
            => crash.Crashed ? Dead() : inner.CompleteAsync(notifications, cancellationToken);

        public ValueTask RescheduleAsync(LogoutNotification notification, CancellationToken cancellationToken)
            => crash.Crashed ? Dead() : inner.RescheduleAsync(notification, cancellationToken);

        public ValueTask DeadLetterAsync(LogoutNotification notification, CancellationToken cancellationToken)
            => crash.Crashed ? Dead() : inner.DeadLetterAsync(notification, cancellationToken);

        public ValueTask<LogoutOutboxSnapshot> GetSnapshotAsync(DateTimeOffset now, CancellationToken cancellationToken)
            => crash.Crashed ? ValueTask.FromException<LogoutOutboxSnapshot>(new IOException("the process is gone")) : inner.GetSnapshotAsync(now, cancellationToken);

        private static ValueTask Dead() => ValueTask.FromException(new IOException("the process is gone"));
    }

    private sealed class CrashSwitch
    {
        private volatile bool _crashed;

        public bool Crashed => _crashed;

        public void Crash() => _crashed = true;
    }
}
