using System.Diagnostics;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// The dispatcher over real HTTP on loopback Kestrel. Time is a FakeTimeProvider shared by the engine and the client
/// app, so "down for 30 seconds" takes a second of wall time while every request is real.
/// </summary>
[TestClass]
public sealed class DeliveryTests
{
    [TestMethod]
    public async Task Enqueue_wakes_the_dispatcher_at_once_without_waiting_for_its_timer()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)));

        await engine.Server.SignOutSessionAsync("session-1");

        // Fake time never moves here: only the wake-up on enqueue can have started the delivery.
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the token arrived");
    }

    [TestMethod]
    public async Task Receiver_answering_500_twice_gets_the_token_on_the_third_attempt()
    {
        var time = EngineHost.NewClock();
        await using var client = await ClientApp.StartAsync("client1", time, fault: ordinal => ordinal <= 2 ? 500 : null);
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient(client.ClientId, client.BackChannelLogoutUri)));
        await using var connection = await client.ConnectAsync("alice", "session-1");
        var closed = new TaskCompletionSource();
        connection.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };

        await engine.Server.RevokeAsync(new Revocation { Subject = "alice", SessionId = "session-1" });

        await Eventually.UntilAsync(() => client.Answered200 == 1, "the third attempt was accepted", time, TimeSpan.FromMilliseconds(250));
        await closed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.UntilAsync(async () => (await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");
    }

    [TestMethod]
    public async Task Every_attempt_carries_a_freshly_minted_jti()
    {
        var time = EngineHost.NewClock();
        var seen = new List<string>();
        await using var receiver = await LoopbackReceiver.StartAsync((_, token) =>
        {
            lock (seen)
            {
                seen.Add(token.Id);
                return Task.FromResult(seen.Count < 3 ? 503 : 200);
            }
        });
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)));

        await engine.Server.SignOutSessionAsync("session-1");

        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the token was accepted", time, TimeSpan.FromMilliseconds(250));
        Assert.AreEqual(3, seen.Count);
        Assert.AreEqual(3, seen.Distinct().Count(), "an attempt reused a jti");
    }

    [TestMethod]
    public async Task Receiver_down_for_30_seconds_gets_the_token_after_recovery_and_nothing_is_lost()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        var down = await ClientApp.StartAsync("client1", time);
        var endpoint = down.BackChannelLogoutUri;
        await down.DisposeAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", endpoint)), database: database);

        for (var i = 0; i < 5; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        // 30 seconds of connection refused, in one-second steps.
        for (var second = 0; second < 30; second++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(20);
        }

        var during = await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), default);
        Assert.AreEqual(5, during.PendingCount);

        await using var client = await ClientApp.StartAsync("client1", time, port: endpoint.Port);
        var connections = new List<HubConnection>();
        var signedOut = new System.Collections.Concurrent.ConcurrentBag<string?>();
        var closed = 0;
        for (var i = 0; i < 5; i++)
        {
            var connection = await client.ConnectAsync($"user-{i}", $"session-{i}");
            // The middleware tells the connection why before it aborts it: proof the close is the revocation's doing.
            connection.On<string?>("signedOut", reason => signedOut.Add(reason));
            connection.Closed += _ => { Interlocked.Increment(ref closed); return Task.CompletedTask; };
            connections.Add(connection);
        }

        await Eventually.UntilAsync(() => client.Answered200 == 5, "all five tokens were accepted after recovery", time);
        await Eventually.UntilAsync(() => Volatile.Read(ref closed) == 5, "all five live connections closed");
        Assert.HasCount(5, signedOut);
        Assert.IsTrue(signedOut.All(r => r == RevocationReasons.Logout), string.Join(", ", signedOut));
        await Eventually.UntilAsync(async () => (await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }

    [TestMethod]
    public async Task Receiver_sleeping_8_seconds_delays_neither_the_caller_nor_other_receivers()
    {
        var time = EngineHost.NewClock();
        using var release = new CancellationTokenSource();
        var slowAnswered = false;
        await using var slow = await LoopbackReceiver.StartAsync(async (_, _) =>
        {
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(8), release.Token);
            }
            catch (OperationCanceledException)
            {
            }

            Volatile.Write(ref slowAnswered, true);
            return 200;
        });
        await using var fast = await ClientApp.StartAsync("fast", time);
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient("slow", slow.Endpoint));
            o.Clients.Add(new LogoutRecipient(fast.ClientId, fast.BackChannelLogoutUri));
        });

        await engine.Server.SignOutEverywhereAsync("alice");
        var callerReturnedBeforeSlowAnswered = !Volatile.Read(ref slowAnswered);
        await Eventually.UntilAsync(() => fast.Answered200 == 1, "the fast client got its token");
        await Eventually.UntilAsync(() => slow.Requests == 1, "the slow receiver's request is in flight");
        var fastServedBeforeSlowAnswered = !Volatile.Read(ref slowAnswered);
        release.Cancel();

        Assert.IsTrue(callerReturnedBeforeSlowAnswered, "RevokeAsync waited for the slow receiver");
        Assert.IsTrue(fastServedBeforeSlowAnswered, "the fast receiver waited for the slow one");
        await Eventually.UntilAsync(() => slow.Accepted.Count == 1, "the slow receiver got its token too");
    }

    [TestMethod]
    public async Task Expired_queued_token_is_re_minted_not_resent()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        await using var client = await ClientApp.StartAsync("client1", time);
        // Built but not started: the notification waits in the outbox with the token minted at enqueue.
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient(client.ClientId, client.BackChannelLogoutUri)), start: false, database: database);
        await engine.Server.SignOutSessionAsync("session-1");
        await using (var db = await engine.Services.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>().CreateDbContextAsync())
        {
            Assert.IsNotNull((await db.LogoutOutbox.SingleAsync()).LogoutToken, "the token minted at enqueue should be stored");
        }

        time.Advance(TimeSpan.FromMinutes(10));
        await engine.Host.StartAsync();

        // The middleware refuses a token 8 minutes past its exp (its clock skew is 2 minutes): a 200 means re-minted.
        await Eventually.UntilAsync(() => client.Answered200 == 1, "the re-minted token was accepted");
    }

    [TestMethod]
    public async Task Notification_past_the_retry_horizon_is_dead_lettered_with_a_log_entry_and_a_metric()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(500));
        MetricCollector<long>? deadLettered = null;
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
                o.RetryHorizon = TimeSpan.FromMinutes(2);
            },
            services => services.AddFakeLogging());
        deadLettered = new MetricCollector<long>(engine.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.dead_lettered");

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the notification is dead-lettered", time, TimeSpan.FromSeconds(2));
        var dead = outbox.GetDeadLettered().Single();
        StringAssert.Contains(dead.LastError, "500");
        Assert.IsGreaterThan(3, dead.Attempts);
        await Eventually.UntilAsync(() => deadLettered.GetMeasurementSnapshot().Sum(m => m.Value) == 1, "the dead-letter counter moved");
        var logs = engine.Services.GetFakeLogCollector();
        await Eventually.UntilAsync(() => logs.GetSnapshot().Any(l => l.Level == LogLevel.Error && l.Id.Name == "NotificationDeadLettered"), "the dead-letter log entry was written");
        Assert.AreEqual(0, (await outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount);
        deadLettered.Dispose();
    }

    [TestMethod]
    public async Task Dead_endpoint_trips_its_circuit_and_does_not_hold_up_healthy_ones()
    {
        var time = EngineHost.NewClock();
        await using var dead = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(503));
        await using var healthy = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient("dead", dead.Endpoint));
            o.Clients.Add(new LogoutRecipient("healthy", healthy.Endpoint));
            o.ImmediateRetries = 0;
        });

        using var retried = new MetricCollector<long>(engine.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.retried");
        for (var i = 0; i < 10; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await Eventually.UntilAsync(() => healthy.Accepted.Count == 10, "the first ten reached the healthy client");
        await Eventually.UntilAsync(() => retried.GetMeasurementSnapshot().Sum(m => m.Value) == 10, "the dead client's ten went back to the outbox");
        var deadRequestsBefore = dead.Requests;

        for (var i = 10; i < 30; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await Eventually.UntilAsync(() => healthy.Accepted.Count == 30, "the healthy client got every token");
        await Eventually.UntilAsync(() => retried.GetMeasurementSnapshot().Sum(m => m.Value) == 30, "the dead client's twenty went back to the outbox");
        // The open circuit answered for the dead endpoint: none of the next twenty cost it a request (or a timeout).
        Assert.AreEqual(deadRequestsBefore, dead.Requests);
    }

    [TestMethod]
    public async Task Health_check_turns_degraded_when_the_oldest_pending_notification_is_too_old()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(500));
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
                o.HealthDegradedAge = TimeSpan.FromMinutes(1);
            },
            services => services.AddHealthChecks().AddAutoSignOutOutbox());
        var health = engine.Services.GetRequiredService<HealthCheckService>();
        Assert.AreEqual(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        await engine.Server.SignOutSessionAsync("session-1");
        Assert.AreEqual(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        time.Advance(TimeSpan.FromSeconds(61));

        var report = await health.CheckHealthAsync();
        Assert.AreEqual(HealthStatus.Degraded, report.Status);
        Assert.AreEqual(1L, report.Entries["autosignout-outbox"].Data["pending"]);
    }

    [TestMethod]
    public async Task Outbox_gauges_report_depth_and_age_of_the_oldest_pending_notification()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(500));
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)));
        var meters = engine.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var depth = new MetricCollector<long>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.outbox.depth");
        using var age = new MetricCollector<double>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.outbox.oldest_age");

        await engine.Server.SignOutSessionAsync("session-1");
        await engine.Server.SignOutSessionAsync("session-2");

        await Eventually.UntilAsync(
            () =>
            {
                depth.RecordObservableInstruments();
                age.RecordObservableInstruments();
                return depth.LastMeasurement?.Value == 2 && age.LastMeasurement?.Value >= 60;
            },
            "the gauges show two notifications at least a minute old",
            time,
            TimeSpan.FromSeconds(2));
    }

    [TestMethod]
    public async Task Telemetry_counts_enqueued_retried_and_delivered_and_spans_every_attempt()
    {
        var time = EngineHost.NewClock();
        var answers = 0;
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(Interlocked.Increment(ref answers) == 1 ? 500 : 200));
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AutoSignOutServerDefaults.TelemetryName,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (spans) { spans.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), start: false);
        var meters = engine.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        using var enqueued = new MetricCollector<long>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.enqueued");
        using var retried = new MetricCollector<long>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.retried");
        using var delivered = new MetricCollector<long>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.delivered");
        using var latency = new MetricCollector<double>(meters, AutoSignOutServerDefaults.TelemetryName, "autosignout.server.delivery.duration");
        await engine.Host.StartAsync();

        await engine.Server.SignOutSessionAsync("session-1");

        await Eventually.UntilAsync(() => delivered.GetMeasurementSnapshot().Count == 1, "delivered was counted", time, TimeSpan.FromMilliseconds(250));
        Assert.AreEqual(1, enqueued.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.AreEqual(1, retried.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.AreEqual(1, latency.GetMeasurementSnapshot().Count);
        Assert.AreEqual("client1", delivered.LastMeasurement!.Tags["autosignout.client_id"]);
        lock (spans)
        {
            var attempts = spans.Where(s => (string?)s.GetTagItem("url.full") == receiver.Endpoint.AbsoluteUri).ToList();
            Assert.HasCount(2, attempts);
            Assert.AreEqual(ActivityStatusCode.Error, attempts[0].Status);
            Assert.AreEqual(200, attempts[1].GetTagItem("http.response.status_code"));
        }
    }
}
