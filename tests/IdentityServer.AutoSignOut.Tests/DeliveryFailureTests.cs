using System.Collections.Concurrent;
using System.Text;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// How a delivery fails: every failure is an attempt with an outcome, what is retried and what is dead-lettered,
/// and what a client that answers badly (slowly, endlessly, with 400s) can and cannot do to the dispatcher.
/// </summary>
[TestClass]
public sealed class DeliveryFailureTests
{
    private static void DebugLogs(IServiceCollection services) => services.AddFakeLogging().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug));

    [TestMethod]
    public async Task Cancellation_that_is_not_the_host_stopping_is_a_failed_attempt_logged_retried_and_dead_lettered()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
                o.ImmediateRetries = 0;
                o.RetryHorizon = TimeSpan.FromMinutes(2);
            },
            services =>
            {
                DebugLogs(services);
                // A binding's own timeout (or SocketsHttpHandler's connect timeout) surfaces as a cancellation.
                services.AddHttpClient(AutoSignOutServerDefaults.HttpClientName).AddHttpMessageHandler(() => new TimingOutHandler());
            });

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the notification is dead-lettered", time, TimeSpan.FromSeconds(2));
        var dead = outbox.GetDeadLettered().Single();
        Assert.IsGreaterThan(1, dead.Attempts);
        Assert.IsNotNull(dead.LastError);
        var logs = engine.Services.GetFakeLogCollector().GetSnapshot();
        Assert.IsTrue(logs.Any(l => l.Level == LogLevel.Warning && l.Id.Name == "NotificationRescheduled"), "the failed attempts were not logged");
        Assert.AreEqual(0, receiver.Requests);
    }

    [TestMethod]
    public async Task Endless_400_body_is_read_only_as_a_prefix_and_the_outcome_is_written()
    {
        var time = EngineHost.NewClock();
        // A raw TCP server, not Kestrel: Kestrel discards writes after the client has gone (and may notice late under
        // load), so counting its writes measures nothing. A socket write blocks on what the peer has not read.
        await using var receiver = await EndlessBodyServer.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => { o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)); o.ImmediateRetries = 0; }, DebugLogs);

        await engine.Server.SignOutSessionAsync("session-1");

        var logs = engine.Services.GetFakeLogCollector();
        await Eventually.UntilAsync(() => logs.GetSnapshot().Any(l => l.Id.Name is "NotificationRescheduled" or "NotificationDeadLettered"), "the outcome of the 400 was written");
        await Eventually.UntilAsync(() => receiver.Closed >= 1, "the engine stopped reading the endless body");
        // Socket buffers and the client's drain before it gives a connection up take a few megabytes; reading the body to
        // the end would take gigabytes.
        Assert.IsLessThan(64L << 20, receiver.Written, "bytes the receiver got to write");
    }

    [TestMethod]
    public async Task Trickled_400_body_is_cut_off_by_the_attempt_timeout()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await RawReceiver.StartAsync(async context =>
        {
            context.Response.StatusCode = 400;
            await context.Response.Body.WriteAsync("x"u8.ToArray());
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
        });
        await using var engine = await EngineHost.CreateAsync(time, o => { o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)); o.ImmediateRetries = 0; }, DebugLogs);

        await engine.Server.SignOutSessionAsync("session-1");

        var logs = engine.Services.GetFakeLogCollector();
        await Eventually.UntilAsync(() => logs.GetSnapshot().Any(l => l.Id.Name is "NotificationRescheduled" or "NotificationDeadLettered"), "the outcome of the trickled 400 was written", time, TimeSpan.FromSeconds(5));
    }

    [TestMethod]
    public async Task Rejected_token_is_retried_a_few_times_with_fresh_tokens_then_dead_lettered_with_the_reason()
    {
        var time = EngineHost.NewClock();
        var jtis = new ConcurrentQueue<string>();
        await using var receiver = await RawReceiver.StartAsync(async context =>
        {
            var form = await context.Request.ReadFormAsync();
            jtis.Enqueue(new Microsoft.IdentityModel.JsonWebTokens.JsonWebToken(form["logout_token"].ToString()).Id);
            context.Response.StatusCode = 400;
            await context.Response.WriteAsync("""{"error":"invalid_request","error_description":"signature key not found"}""");
        });
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), DebugLogs);

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the rejected notification is dead-lettered", time, TimeSpan.FromSeconds(10));
        var dead = outbox.GetDeadLettered().Single();
        StringAssert.Contains(dead.LastError, "400");
        StringAssert.Contains(dead.LastError, "signature key not found");
        // A few spaced tries, each with its own token, and far fewer than the retry horizon would allow.
        Assert.IsInRange(2, 5, jtis.Count);
        Assert.AreEqual(jtis.Count, jtis.Distinct().Count(), "a retry reused a jti");
        Assert.AreEqual(jtis.Count, dead.Attempts);
    }

    [TestMethod]
    [DataRow(404)]
    [DataRow(401)]
    [DataRow(302)]
    public async Task Other_4xx_and_3xx_are_dead_lettered_at_once(int status)
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(status));
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)));

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the notification is dead-lettered");
        Assert.AreEqual(1, receiver.Requests);
        StringAssert.Contains(outbox.GetDeadLettered().Single().LastError, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [TestMethod]
    public async Task Too_many_requests_is_retried_no_sooner_than_its_retry_after()
    {
        var time = EngineHost.NewClock();
        var answered = 0;
        await using var receiver = await RawReceiver.StartAsync(context =>
        {
            if (Interlocked.Increment(ref answered) == 1)
            {
                context.Response.StatusCode = 429;
                context.Response.Headers.RetryAfter = "120";
            }
            else
            {
                context.Response.StatusCode = 200;
            }

            return Task.CompletedTask;
        });
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), DebugLogs);
        var start = time.GetUtcNow();

        await engine.Server.SignOutSessionAsync("session-1");

        var logs = engine.Services.GetFakeLogCollector();
        await Eventually.UntilAsync(() => logs.GetSnapshot().Any(l => l.Id.Name == "NotificationRescheduled"), "the 429 was rescheduled");
        var rescheduled = logs.GetSnapshot().First(l => l.Id.Name == "NotificationRescheduled");
        var next = DateTimeOffset.Parse(rescheduled.StructuredState!.First(p => p.Key == "NextAttemptAt").Value!, System.Globalization.CultureInfo.InvariantCulture);
        // (The logged time is rounded to the second.)
        Assert.IsGreaterThanOrEqualTo(start + TimeSpan.FromSeconds(119), next);
        Assert.AreEqual(1, Volatile.Read(ref answered), "the 429 was retried at once");
        await Eventually.UntilAsync(() => Volatile.Read(ref answered) == 2, "the retry after the pause was accepted", time, TimeSpan.FromSeconds(10));
    }

    [TestMethod]
    public async Task Rejections_of_some_tokens_do_not_open_the_circuit_for_the_valid_ones()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, token) => Task.FromResult(token.GetClaim("sid").Value.StartsWith("bad", StringComparison.Ordinal) ? 400 : 200));
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)));

        for (var i = 0; i < 12; i++)
        {
            await engine.Server.SignOutSessionAsync($"bad-{i}");
        }

        await Eventually.UntilAsync(() => receiver.Requests >= 12, "the bad tokens were answered");
        for (var i = 0; i < 10; i++)
        {
            await engine.Server.SignOutSessionAsync($"good-{i}");
        }

        // Fake time stands still: a circuit opened by the 400s would hold the good ones back.
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 10, "every valid token was accepted at once");
    }

    [TestMethod]
    public async Task Open_circuit_backs_off_its_rows_and_logs_its_rejections_at_debug()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(503));
        await using var engine = await EngineHost.CreateAsync(time, o => { o.Clients.Add(new LogoutRecipient("dead", receiver.Endpoint)); o.ImmediateRetries = 0; }, DebugLogs);
        using var retried = new MetricCollector<long>(engine.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.retried");
        const int rows = 20;
        for (var i = 0; i < rows; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        // Ten minutes behind a dead endpoint, in one-second steps.
        var end = time.GetUtcNow() + TimeSpan.FromMinutes(10);
        while (time.GetUtcNow() < end)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(15);
        }

        // Backoff doubling from 5 s reaches the 10-minute mark in about seven rounds per row; a schedule that stops
        // growing while the circuit is open reschedules each row every few seconds, over a hundred times.
        var rounds = retried.GetMeasurementSnapshot().Sum(m => m.Value);
        Assert.IsLessThan(rows * 15, rounds, $"{rounds} reschedules of {rows} rows in ten minutes");
        var warnings = engine.Services.GetFakeLogCollector().GetSnapshot().Count(l => l.Level >= LogLevel.Warning);
        Assert.IsLessThanOrEqualTo(receiver.Requests + rows, warnings, "breaker rejections were logged above Debug");
    }

    public static IEnumerable<object[]> Providers => OutboxTests.Providers;

    /// <summary>
    /// Each provider, with the failed rows' own write-backs as fast as the database makes them, and held 500 ms: the
    /// dispatcher leases the whole backlog into memory before the circuit opens, so the endpoint's postponement in the
    /// outbox finds only the failed rows, if they are back yet, or nothing (a CI run on PostgreSQL found the test
    /// assuming the former).
    /// </summary>
    public static IEnumerable<object[]> ProvidersAndWriteBackDelays => OutboxTests.Providers.SelectMany(p => new[] { new object[] { p[0], 0 }, [p[0], 500] });

    [TestMethod]
    [DynamicData(nameof(ProvidersAndWriteBackDelays))]
    public async Task Open_circuit_holds_its_endpoints_backlog_back_as_a_whole_and_sends_one_probe_per_break(string provider, int writeBackDelayMs)
    {
        // A dead client's backlog used to be leased and refused by its open circuit row by row, one UPDATE each,
        // competing with healthy clients' writes (on SQLite's single writer: 9x their p99 in the bench).
        var time = EngineHost.NewClock();
        await using var database = provider == "SQLite" ? TestDatabase.SqliteFile() : await TestDatabase.PostgresAsync();
        var up = false;
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(Volatile.Read(ref up) ? 200 : 503));
        CountingOutbox? outbox = null;
        await using var engine = await EngineHost.CreateAsync(
            time,
            o => { o.Clients.Add(new LogoutRecipient("dead", receiver.Endpoint)); o.ImmediateRetries = 0; },
            services => services.AddSingleton<ILogoutOutbox>(sp => outbox = new CountingOutbox(new EntityFrameworkLogoutOutbox<AutoSignOutDbContext>(sp.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>())) { SingleRescheduleDelay = TimeSpan.FromMilliseconds(writeBackDelayMs) }),
            start: false,
            database: database);
        const int rows = 200;
        for (var i = 0; i < rows; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await engine.Host.StartAsync();
        async Task<int> LeasedAsync()
        {
            await using var db = await engine.Services.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>().CreateDbContextAsync();
            return await db.LogoutOutbox.CountAsync(e => e.LeaseId != null);
        }

        // Fake time stands still: the first dispatches fail, the circuit opens, and everything else waits for its break.
        await Eventually.UntilAsync(() => receiver.Requests >= 4, "the first dispatches failed");
        // Back in the outbox, none of it due before the break ends: postponed there (rows not yet leased) or written back
        // in batches (rows already leased into memory), whichever the timing of the first failures made it.
        await Eventually.UntilAsync(
            async () => await LeasedAsync() == 0 && await engine.Outbox.GetNextDueAsync(time.GetUtcNow(), CancellationToken.None) is { } due && due > time.GetUtcNow(),
            "the backlog went back to the outbox");
        var firstWave = receiver.Requests;
        Assert.IsLessThanOrEqualTo(2 * AutoSignOutServerDefaults.MaxConcurrentDeliveriesPerEndpoint, outbox!.SingleReschedules, "rows written back one by one");
        Assert.AreEqual(rows, (await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), CancellationToken.None)).PendingCount);

        // The break is over: one row probes the endpoint, and fails; the others go back together.
        var singles = outbox.SingleReschedules;
        time.Advance(AutoSignOutServerDefaults.CircuitBreakerBreakDuration + TimeSpan.FromSeconds(1));
        await Eventually.UntilAsync(() => receiver.Requests > firstWave, "the probe was sent");
        await Eventually.UntilAsync(async () => outbox.SingleReschedules > singles && await LeasedAsync() == 0, "the failed probe's rows went back to the outbox");
        Assert.AreEqual(firstWave + 1, receiver.Requests, "requests after the break");

        // A failed probe doubles the break: nothing is sent after another 31 s.
        time.Advance(AutoSignOutServerDefaults.CircuitBreakerBreakDuration + TimeSpan.FromSeconds(1));
        await Task.Delay(300);
        Assert.AreEqual(firstWave + 1, receiver.Requests, "requests before the doubled break ended");

        // The client comes back: the next probe closes the circuit and the whole backlog drains.
        Volatile.Write(ref up, true);
        await Eventually.UntilAsync(() => receiver.Accepted.Count == rows, "the backlog was delivered once the endpoint answered", time, TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(60));
    }

    [TestMethod]
    public async Task Limping_endpoint_that_succeeds_on_each_tokens_third_try_drains_its_backlog()
    {
        var time = EngineHost.NewClock();
        var tries = new ConcurrentDictionary<string, int>();
        await using var receiver = await LoopbackReceiver.StartAsync((_, token) => Task.FromResult(tries.AddOrUpdate(token.GetClaim("sid").Value, 1, (_, n) => n + 1) <= 2 ? 500 : 200));
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("limping", receiver.Endpoint)));
        var start = time.GetUtcNow();
        const int sessions = 60;
        for (var i = 0; i < sessions; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await Eventually.UntilAsync(() => receiver.Accepted.Count == sessions, "every notification reached the limping endpoint", time, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(60));
        // Each token succeeds on its third try: the backlog must drain in about the time its retries take, not wait
        // out breaks of a circuit that keeps reopening.
        Assert.IsLessThan(TimeSpan.FromSeconds(90), time.GetUtcNow() - start, "fake time it took to drain");
    }

    [TestMethod]
    public async Task Slow_endpoint_with_a_backlog_does_not_take_every_delivery_slot()
    {
        var time = EngineHost.NewClock();
        using var release = new CancellationTokenSource();
        await using var slow = await LoopbackReceiver.StartAsync(async (_, _) =>
        {
            await Task.Delay(Timeout.Infinite, release.Token).ContinueWith(_ => { });
            return 200;
        });
        await using var healthy = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient("slow", slow.Endpoint));
            o.Clients.Add(new LogoutRecipient("healthy", healthy.Endpoint));
            o.MaxConcurrentDeliveries = 16;
        });
        var server = engine.Server;
        for (var i = 0; i < 40; i++)
        {
            await server.RevokeAsync(new Revocation { SessionId = $"slow-{i}", ClientIds = ["slow"] });
        }

        await Eventually.UntilAsync(() => slow.Requests >= 4, "the slow endpoint is busy");
        for (var i = 0; i < 10; i++)
        {
            await server.RevokeAsync(new Revocation { SessionId = $"healthy-{i}", ClientIds = ["healthy"] });
        }

        await Eventually.UntilAsync(() => healthy.Accepted.Count == 10, "the healthy endpoint got its tokens while the slow one hangs");
        Assert.IsLessThan(16, slow.Requests, "the slow endpoint holds every slot");
        release.Cancel();
    }

    [TestMethod]
    public async Task Backlog_to_one_endpoint_is_leased_only_as_it_can_start_or_wait_and_none_goes_back_to_the_outbox()
    {
        // Fake time that never moves: a row leased with no room to start or wait would go back to the outbox due a
        // poll interval later and never arrive (the bench's backlog to four receivers ended with a 5-second stall).
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
                o.MaxConcurrentDeliveries = 16;
                o.MaxConcurrentDeliveriesPerEndpoint = 1;
            },
            start: false);
        // Stored before the dispatcher runs, so that the whole backlog comes from the outbox, not from hand-overs.
        const int rows = 400;
        for (var i = 0; i < rows; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await engine.Host.StartAsync();

        await Eventually.UntilAsync(() => receiver.Accepted.Count == rows, "the whole backlog arrived without time passing", wallTimeout: TimeSpan.FromSeconds(60));
        Assert.AreEqual(rows, receiver.Requests);
    }

    private sealed class TimingOutHandler : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
            => Task.FromException<HttpResponseMessage>(new TaskCanceledException("The binding's own timeout elapsed.", new TimeoutException()));
    }
}
