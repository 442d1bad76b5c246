using System.Collections.Concurrent;
using System.Diagnostics;
using AutoSignOut.IdentityServer.EntityFrameworkCore;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>
/// The outbox and the network around it: redelivery after a crash, rows that cannot be read, batches with one bad
/// caller, the jti index under concurrency, cookies and secrets in URIs, addresses a request must not reach.
/// </summary>
[TestClass]
public sealed class OutboxHardeningTests
{
    public static IEnumerable<object[]> Providers => OutboxTests.Providers;

    private static async Task<TestDatabase> OpenAsync(string provider)
        => provider == "SQLite" ? TestDatabase.SqliteFile() : await TestDatabase.PostgresAsync();

    private static async Task<AutoSignOutDbContext> DbAsync(EngineHost engine)
        => await engine.Services.GetRequiredService<IDbContextFactory<AutoSignOutDbContext>>().CreateDbContextAsync();

    [TestMethod]
    public async Task Redelivery_after_a_crash_carries_a_fresh_jti()
    {
        var time = EngineHost.NewClock();
        await using var database = TestDatabase.SqliteFile();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), start: false, database: database);
        await engine.Server.SignOutSessionAsync("session-1");
        string firstJti;
        await using (var db = await DbAsync(engine))
        {
            var row = await db.LogoutOutbox.SingleAsync();
            firstJti = new JsonWebToken(row.LogoutToken!).Id;
            // A process leased the row, sent its token, and died before writing the outcome; its lease has run out.
            var ended = time.GetUtcNow().AddSeconds(-1).ToUnixTimeMilliseconds();
            await db.LogoutOutbox.ExecuteUpdateAsync(s => s.SetProperty(e => e.LeaseId, Guid.NewGuid()).SetProperty(e => e.LeaseExpiresAt, ended));
        }

        await engine.Host.StartAsync();

        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the row was delivered again");
        Assert.AreNotEqual(firstJti, receiver.Accepted.Single().Id, "the redelivery reused the first attempt's jti");
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Unreadable_row_is_dead_lettered_and_does_not_strand_its_batch(string provider)
    {
        var time = EngineHost.NewClock();
        await using var database = await OpenAsync(provider);
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), start: false, database: database);
        for (var i = 0; i < 3; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        var poison = Guid.CreateVersion7();
        await using (var db = await DbAsync(engine))
        {
            db.LogoutOutbox.Add(new LogoutOutboxEntry
            {
                Id = poison,
                ClientId = "client1",
                Endpoint = receiver.Endpoint.AbsoluteUri,
                SessionId = "poison",
                Reason = "logout",
                RevokedTokenIds = "{this is not a JSON array",
                CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
                NextAttemptAt = time.GetUtcNow().AddSeconds(-10).ToUnixTimeMilliseconds(),
            });
            await db.SaveChangesAsync();
        }

        await engine.Host.StartAsync();

        await Eventually.UntilAsync(() => receiver.Accepted.Count == 3, "the readable rows of the batch were delivered");
        await using (var db = await DbAsync(engine))
        {
            var row = await db.LogoutOutbox.AsNoTracking().SingleAsync(e => e.Id == poison);
            Assert.AreEqual((int)LogoutNotificationState.DeadLettered, row.State);
            StringAssert.Contains(row.LastError, "unreadable");
        }
    }

    [TestMethod]
    public async Task Caller_whose_items_the_store_refuses_fails_alone_not_with_its_batch()
    {
        var gate = new TaskCompletionSource();
        var writes = 0;
        var commit = new GroupCommit<string>(
            async (items, _) =>
            {
                if (Interlocked.Increment(ref writes) == 1)
                {
                    await gate.Task;
                }

                if (items.Contains("bad"))
                {
                    throw new InvalidOperationException("value too long for type character varying(100)");
                }
            },
            maxBatch: 500);

        var first = commit.AddAsync(["first"]);
        // These queue up behind the first write and go to the store together.
        var good1 = commit.AddAsync(["a", "b"]);
        var bad = commit.AddAsync(["bad"]);
        var good2 = commit.AddAsync(["c"]);
        gate.SetResult();

        await first;
        await good1;
        await good2;
        await Assert.ThrowsExactlyAsync<InvalidOperationException>(() => bad);
    }

    [TestMethod]
    public async Task Revocation_with_a_reason_longer_than_its_column_fails_alone_and_up_front()
    {
        var time = EngineHost.NewClock();
        await using var database = await TestDatabase.PostgresAsync();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), database: database);

        var good = Enumerable.Range(0, 20).Select(i => engine.Server.SignOutSessionAsync($"session-{i}")).ToList();
        var bad = engine.Server.SignOutSessionAsync("session-bad", reason: new string('r', 101));

        await Assert.ThrowsExactlyAsync<ArgumentException>(() => bad);
        CollectionAssert.AreEqual(Enumerable.Repeat(1, 20).ToArray(), await Task.WhenAll(good));
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Recording_the_same_jti_concurrently_is_an_upsert(string provider)
    {
        await using var database = await OpenAsync(provider);
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database, services: s => s.AddAutoSignOutEntityFrameworkTokenIndex());
        var index = engine.Services.GetRequiredService<IIssuedTokenIndex>();
        var now = time.GetUtcNow();

        await Task.WhenAll(Enumerable.Range(0, 24).Select(i => Task.Run(async () =>
            await index.RecordAsync(new IssuedToken("at-same", "web", "alice", "s-1", now.AddMinutes(5 + i)), default))));

        var found = await index.FindAsync("alice", "s-1", now, default);
        Assert.AreEqual("at-same", found.Single().TokenId);
    }

    [TestMethod]
    public async Task Revocation_naming_its_tokens_tells_each_client_only_its_own()
    {
        var time = EngineHost.NewClock();
        await using var web = await LoopbackReceiver.StartAsync();
        await using var api = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("web", web.Endpoint));
                o.Clients.Add(new LogoutRecipient("api", api.Endpoint));
            },
            services => services.AddSingleton<IIssuedTokenIndex, InMemoryIssuedTokenIndex>());
        var index = engine.Services.GetRequiredService<IIssuedTokenIndex>();
        await index.RecordAsync(new IssuedToken("web-token", "web", "alice", "s-1", time.GetUtcNow().AddMinutes(5)), default);
        await index.RecordAsync(new IssuedToken("api-token", "api", "alice", "s-1", time.GetUtcNow().AddMinutes(5)), default);

        await engine.Server.RevokeAsync(new Revocation { Subject = "alice", SessionId = "s-1", RevokedTokenIds = ["web-token", "api-token"] });

        await Eventually.UntilAsync(() => web.Accepted.Count == 1 && api.Accepted.Count == 1, "both clients were told");
        CollectionAssert.AreEqual(new[] { "web-token" }, RevokedIds(web.Accepted.Single()));
        CollectionAssert.AreEqual(new[] { "api-token" }, RevokedIds(api.Accepted.Single()));
    }

    [TestMethod]
    public async Task Back_channel_requests_carry_no_cookies_and_logs_and_traces_redact_the_uri()
    {
        var time = EngineHost.NewClock();
        var cookies = new ConcurrentQueue<string>();
        var requests = 0;
        await using var receiver = await RawReceiver.StartAsync(context =>
        {
            cookies.Enqueue(context.Request.Headers.Cookie.ToString());
            if (Interlocked.Increment(ref requests) == 1)
            {
                context.Response.Headers.SetCookie = "session=from-the-client; Path=/";
                context.Response.StatusCode = 503;
            }
            else
            {
                context.Response.StatusCode = 200;
            }

            return Task.CompletedTask;
        });
        var endpoint = new UriBuilder(receiver.Endpoint) { UserName = "user", Password = "secret-password", Query = "key=secret-query" }.Uri;
        var urls = new ConcurrentQueue<string>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == AutoSignOutServerDefaults.TelemetryName,
            Sample = (ref _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => urls.Enqueue((string?)a.GetTagItem("url.full") ?? ""),
        };
        ActivitySource.AddActivityListener(listener);
        await using var engine = await EngineHost.CreateAsync(
            time,
            o => o.Clients.Add(new LogoutRecipient("client1", endpoint)),
            services => services.AddFakeLogging().AddLogging(b => b.SetMinimumLevel(LogLevel.Debug)));

        await engine.Server.SignOutSessionAsync("session-1");

        await Eventually.UntilAsync(() => Volatile.Read(ref requests) == 2, "the retry was accepted", time, TimeSpan.FromMilliseconds(250));
        Assert.IsTrue(cookies.All(string.IsNullOrEmpty), $"a request carried cookies: {string.Join(" | ", cookies)}");
        var logged = engine.Services.GetFakeLogCollector().GetSnapshot().Select(l => l.Message).ToList();
        Assert.IsNotEmpty(logged);
        Assert.IsFalse(logged.Concat(urls).Any(m => m.Contains("secret", StringComparison.Ordinal)), string.Join("\n", logged.Concat(urls).Where(m => m.Contains("secret", StringComparison.Ordinal))));
        Assert.IsTrue(urls.Any(u => u.StartsWith($"http://127.0.0.1:{receiver.Endpoint.Port}/signout-backchannel", StringComparison.Ordinal)));
    }

    [TestMethod]
    public async Task Link_local_metadata_address_is_refused_without_a_request_and_dead_lettered()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("metadata", new Uri("http://169.254.169.254/latest/meta-data/"))));

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the notification is dead-lettered");
        StringAssert.Contains(outbox.GetDeadLettered().Single().LastError, "policy");
    }

    [TestMethod]
    public async Task Loopback_is_refused_when_the_policy_turns_it_off()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient("local", receiver.Endpoint));
            o.EndpointAddressPolicy.AllowLoopback = false;
        });

        await engine.Server.SignOutSessionAsync("session-1");

        var outbox = (InMemoryLogoutOutbox)engine.Outbox;
        await Eventually.UntilAsync(() => outbox.GetDeadLettered().Count == 1, "the notification is dead-lettered");
        Assert.AreEqual(0, receiver.Requests);
    }

    [TestMethod]
    public async Task Recipient_from_a_binding_with_a_scheme_other_than_http_is_never_notified()
    {
        var time = EngineHost.NewClock();
        await using var receiver = await LoopbackReceiver.StartAsync();
        await using var engine = await EngineHost.CreateAsync(time, services: s => s.AddSingleton<ILogoutRecipientSource>(new FixedRecipients(
            new LogoutRecipient("good", receiver.Endpoint),
            new LogoutRecipient("file", new Uri("file:///etc/passwd")),
            new LogoutRecipient("gopher", new Uri("gopher://127.0.0.1:70/1")))));

        var count = await engine.Server.SignOutSessionAsync("session-1");

        Assert.AreEqual(1, count);
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the good recipient was told");
    }

    [TestMethod]
    public async Task Lease_must_cover_the_longest_dispatch_plus_a_margin_for_clock_skew()
    {
        var time = EngineHost.NewClock();
        // EngineHost's attempt timeout is a minute: three attempts and their quick-retry delays take about 3:03.
        var start = EngineHost.CreateAsync(time, o => o.LeaseDuration = TimeSpan.FromMinutes(3) + TimeSpan.FromSeconds(10));

        await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => start);
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Instance_restarting_under_its_name_takes_its_leases_back_at_once(string provider)
    {
        var time = EngineHost.NewClock();
        await using var database = await OpenAsync(provider);
        await using var receiver = await LoopbackReceiver.StartAsync();
        void Configure(AutoSignOutServerOptions o)
        {
            o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint));
            o.InstanceName = "idp-0";
        }

        await using var engine = await EngineHost.CreateAsync(time, Configure, start: false, database: database);
        for (var i = 0; i < 3; i++)
        {
            await engine.Server.SignOutSessionAsync($"session-{i}");
        }

        await using (var db = await DbAsync(engine))
        {
            // "idp-0" leased them for five minutes and was killed.
            var until = time.GetUtcNow().AddMinutes(5).ToUnixTimeMilliseconds();
            await db.LogoutOutbox.ExecuteUpdateAsync(s => s.SetProperty(e => e.LeaseId, Guid.NewGuid()).SetProperty(e => e.LeaseExpiresAt, until).SetProperty(e => e.LeaseOwner, "idp-0"));
        }

        await engine.Host.StartAsync();

        // Fake time stands still: only reclaimed leases can be delivered now.
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 3, "the restarted instance delivered its rows at once");
    }

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Dead_letters_can_be_listed_and_replayed_and_go_after_their_retention(string provider)
    {
        var time = EngineHost.NewClock();
        await using var database = await OpenAsync(provider);
        var accept = false;
        await using var receiver = await LoopbackReceiver.StartAsync((_, _) => Task.FromResult(Volatile.Read(ref accept) ? 200 : 404));
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient("client1", receiver.Endpoint)), database: database);
        await engine.Server.SignOutSessionAsync("session-1");
        await engine.Server.SignOutSessionAsync("session-2");
        var outbox = engine.Outbox;
        IReadOnlyList<LogoutNotification> dead = [];
        await Eventually.UntilAsync(async () => (dead = await outbox.GetDeadLetteredAsync(10, default)).Count == 2, "both are dead-lettered");
        Assert.IsTrue(dead.All(d => d.LastError!.Contains("404", StringComparison.Ordinal)));

        Volatile.Write(ref accept, true);
        var replayed = await outbox.ReplayDeadLetteredAsync([dead[0].Id], time.GetUtcNow(), default);
        engine.Services.GetRequiredService<ILogoutDispatchSignal>().Notify();

        Assert.AreEqual(1, replayed);
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the replayed notification was delivered");
        await Eventually.UntilAsync(async () => (await outbox.GetDeadLetteredAsync(10, default)).Count == 0, "the other dead letter went after its retention", time, TimeSpan.FromHours(1));
    }

    [TestMethod]
    [DataRow("SQLite")]
    [DataRow("PostgreSQL")]
    [DataRow("SqlServer")]
    public async Task Migrations_and_model_snapshot_match_the_model(string provider)
    {
        var options = new DbContextOptionsBuilder<AutoSignOutDbContext>();
        TestDatabase? database = null;
        switch (provider)
        {
            case "SQLite":
                database = TestDatabase.SqliteFile();
                database.Use(options);
                break;
            case "PostgreSQL":
                database = await TestDatabase.PostgresAsync();
                database.Use(options);
                break;
            default:
                // No server needed: the comparison is between the snapshot and the model.
                options.UseSqlServer("Server=unused;Database=unused");
                break;
        }

        await using (database)
        {
            await using var db = new AutoSignOutDbContext(options.Options);
            Assert.IsFalse(db.Database.HasPendingModelChanges(), "the model changed without a migration: run `dotnet ef migrations add` (see the package README)");
            if (database is not null)
            {
                await db.Database.MigrateAsync();
                Assert.IsEmpty(await db.Database.GetPendingMigrationsAsync());
            }
        }
    }

    private static string[] RevokedIds(JsonWebToken token)
        => [.. token.Claims.Where(c => c.Type == AutoSignOutServerDefaults.RevokedTokenIdsClaim).Select(c => c.Value)];

    private sealed class FixedRecipients(params LogoutRecipient[] recipients) : ILogoutRecipientSource
    {
        public ValueTask<IReadOnlyList<LogoutRecipient>> GetRecipientsAsync(Revocation revocation, CancellationToken cancellationToken)
            => ValueTask.FromResult<IReadOnlyList<LogoutRecipient>>(recipients);
    }
}
