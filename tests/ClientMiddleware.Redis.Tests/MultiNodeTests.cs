using System.Diagnostics.Metrics;
using System.Net;
using System.Xml.Linq;
using AutoSignOut.AspNetCore.Redis.Tests.Infrastructure;
using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.DataProtection.KeyManagement;
using Microsoft.AspNetCore.DataProtection.Repositories;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AutoSignOut.AspNetCore.Redis.Tests;

/// <summary>
/// Several nodes of one client app (separate Kestrel servers on 127.0.0.1) sharing a real redis-server: a sign-out
/// reaches every node, including nodes that were cut off from Redis or started later, and a token is used once.
/// </summary>
[TestClass]
public sealed class MultiNodeTests
{
    private static readonly TimeSpan Eventually = TimeSpan.FromSeconds(30);
    private readonly List<TestClientApp> _nodes = [];
    private readonly InMemoryKeyRepository _keys = new();
    private TestOpenIdProvider _op = null!;
    private string _prefix = null!;

    [TestInitialize]
    public async Task StartAsync()
    {
        _op = await TestOpenIdProvider.StartAsync();
        _prefix = TestRedis.NewPrefix();
    }

    [TestCleanup]
    public async Task StopAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }

        await _op.DisposeAsync();
    }

    [TestMethod]
    public async Task A_logout_token_posted_to_one_node_closes_that_session_on_every_node_and_nothing_else()
    {
        var redis = TestRedis.SharedConfiguration();
        var nodes = new[] { await StartNodeAsync(redis), await StartNodeAsync(redis), await StartNodeAsync(redis) };
        var alice = await SignInAsync(nodes[0], "alice", "s-alice");
        var bob = await SignInAsync(nodes[0], "bob", "s-bob");
        var aliceClients = new List<HubClient>();
        var bobClients = new List<HubClient>();
        foreach (var node in nodes)
        {
            aliceClients.Add(await ConnectAsync(node, alice));
            bobClients.Add(await ConnectAsync(node, bob));
        }

        var response = await nodes[0].PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-alice", editPayload: p => p["reason"] = "logout"));

        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        foreach (var client in aliceClients)
        {
            await client.AssertClosedAsync(Eventually);
            Assert.AreEqual("logout", await client.SignedOut, "each node tells its client why");
        }

        foreach (var client in bobClients)
        {
            await client.AssertAliveAsync();
        }

        foreach (var node in nodes)
        {
            Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(node, alice)).StatusCode, "the revoked cookie is refused on every node");
            Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(node, bob)).StatusCode, "another session's cookie works on every node");
        }
    }

    [TestMethod]
    public async Task Nodes_cut_off_from_Redis_when_the_token_came_close_the_session_once_Redis_is_back()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var nodes = new[] { await StartNodeAsync(redis.Configuration), await StartNodeAsync(redis.Configuration), await StartNodeAsync(redis.Configuration) };
        var alice = await SignInAsync(nodes[0], "alice", "s-alice");
        var bob = await SignInAsync(nodes[0], "bob", "s-bob");
        var aliceClients = new List<HubClient>();
        foreach (var node in nodes)
        {
            aliceClients.Add(await ConnectAsync(node, alice));
        }

        var bobOnNode2 = await ConnectAsync(nodes[1], bob);

        await redis.StopAsync();
        var response = await nodes[0].PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-alice"));

        Assert.AreEqual(HttpStatusCode.BadRequest, response.StatusCode, "not published: the provider is asked to retry");
        StringAssert.Contains(await response.Content.ReadAsStringAsync(), "temporarily_unavailable");
        await aliceClients[0].AssertClosedAsync(Eventually);
        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(nodes[0], alice)).StatusCode, "the receiving node refuses the cookie without Redis");
        Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(nodes[1], bob)).StatusCode, "a dead Redis does not stop other sessions");

        await redis.StartAgainAsync();

        await aliceClients[1].AssertClosedAsync(Eventually);
        await aliceClients[2].AssertClosedAsync(Eventually);
        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(nodes[1], alice)).StatusCode);
        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(nodes[2], alice)).StatusCode);
        await bobOnNode2.AssertAliveAsync();
    }

    [TestMethod]
    public async Task A_node_started_after_the_signal_refuses_the_revoked_cookie()
    {
        var redis = TestRedis.SharedConfiguration();
        var first = await StartNodeAsync(redis);
        var alice = await SignInAsync(first, "alice", "s-alice");
        var bob = await SignInAsync(first, "bob", "s-bob");
        Assert.AreEqual(HttpStatusCode.OK, (await first.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "alice", "s-alice"))).StatusCode);

        var late = await StartNodeAsync(redis);

        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(late, alice)).StatusCode, "the revoked set is loaded at start");
        Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(late, bob)).StatusCode, "and only the revoked session is refused");
        await using var bobClient = await ConnectAsync(late, bob);
        await bobClient.AssertAliveAsync();
    }

    [TestMethod]
    public async Task The_same_logout_token_posted_to_a_second_node_is_refused_as_a_replay_and_changes_nothing()
    {
        var redis = TestRedis.SharedConfiguration();
        var signals = new int[2];
        var node1 = await StartNodeAsync(redis, o => o.Events.OnSignal = _ => { Interlocked.Increment(ref signals[0]); return Task.CompletedTask; });
        var node2 = await StartNodeAsync(redis, o => o.Events.OnSignal = _ => { Interlocked.Increment(ref signals[1]); return Task.CompletedTask; });
        var alice = await SignInAsync(node1, "alice", "s-alice");
        var onNode2 = await ConnectAsync(node2, alice);
        var token = _op.LogoutToken(TestClientApp.ClientId, "alice", "s-alice");

        Assert.AreEqual(HttpStatusCode.OK, (await node1.PostLogoutAsync(token)).StatusCode);
        await onNode2.AssertClosedAsync(Eventually);
        var replay = await node2.PostLogoutAsync(token);

        Assert.AreEqual(HttpStatusCode.BadRequest, replay.StatusCode);
        StringAssert.Contains(await replay.Content.ReadAsStringAsync(), "already used");
        await using var check = await ConnectionMultiplexer.ConnectAsync(redis);
        Assert.AreEqual(1, await check.GetDatabase().StreamLengthAsync(_prefix + "signals"), "one signal on the stream");
        Assert.AreEqual(1, Volatile.Read(ref signals[0]));
        Assert.AreEqual(1, Volatile.Read(ref signals[1]), "node 2 applied the signal once, from its channel message or the stream");
    }

    [TestMethod]
    public async Task Malformed_foreign_and_newer_entries_are_skipped_and_counted_and_revoke_or_unrevoke_nothing()
    {
        var redis = TestRedis.SharedConfiguration();
        var node = await StartNodeAsync(redis);
        var carol = await SignInAsync(node, "carol", "s-carol");
        Assert.AreEqual(HttpStatusCode.OK, (await node.PostLogoutAsync(_op.LogoutToken(TestClientApp.ClientId, "carol", "s-carol"))).StatusCode);
        var alice = await SignInAsync(node, "alice", "s-alice");
        var bob = await SignInAsync(node, "bob", "s-bob");
        var aliceClient = await ConnectAsync(node, alice);
        var bobClient = await ConnectAsync(node, bob);
        using var skipped = new MetricCollector<long>(node.Services.GetRequiredService<IMeterFactory>(), AutoSignOutRedisDefaults.TelemetryName, "autosignout.redis.entries.skipped");
        var application = node.Services.GetRequiredService<IOptions<AutoSignOutRedisOptions>>().Value.ApplicationName!;
        var bobSignal = SignalEntry.Create(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-bob", CreatedAt = DateTimeOffset.UtcNow }, application, "other-node");

        await using var writer = await ConnectionMultiplexer.ConnectAsync(redis);
        var stream = writer.GetDatabase();
        var key = _prefix + "signals";
        await stream.StreamAddAsync(key, [new("hello", "world")]);
        await stream.StreamAddAsync(key, [.. bobSignal.Select(f => f.Name == "app" ? new NameValueEntry("app", "another-app") : f)]);
        await stream.StreamAddAsync(key, [.. bobSignal.Select(f => f.Name == "v" ? new NameValueEntry("v", 2) : f)]);
        await stream.StreamAddAsync(key, [.. bobSignal.Select(f => f.Name == "signal" ? new NameValueEntry("signal", "{not json") : f)]);
        await stream.StreamAddAsync(key, [.. bobSignal.Select(f => f.Name == "signal" ? new NameValueEntry("signal", "{\"iss\":\"x\",\"at\":1}") : f)]);
        await stream.StreamAddAsync(key, [.. bobSignal.Select(f => f.Name == "signal" ? new NameValueEntry("signal", "{\"sid\":\"s-carol\",\"at\":-5}") : f)]);
        await stream.StreamAddAsync(key, SignalEntry.Create(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-alice", CreatedAt = DateTimeOffset.UtcNow }, application, "other-node"));
        await writer.GetSubscriber().PublishAsync(RedisChannel.Literal(_prefix + "signals:new"), string.Empty);

        await aliceClient.AssertClosedAsync(Eventually);
        await bobClient.AssertAliveAsync();
        var counts = skipped.GetMeasurementSnapshot().GroupBy(m => (string)m.Tags["reason"]!).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));
        Assert.AreEqual(4, counts.GetValueOrDefault("malformed"), "no version; bad JSON; names nothing; a time out of range");
        Assert.AreEqual(1, counts.GetValueOrDefault("foreign"));
        Assert.AreEqual(1, counts.GetValueOrDefault("newer_version"));
        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(node, carol)).StatusCode, "a revocation stays whatever came after it");
        Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(node, bob)).StatusCode);
    }

    [TestMethod]
    public async Task An_entry_is_applied_from_its_channel_message_without_a_stream_read_and_once_when_the_stream_brings_it_too()
    {
        var redis = TestRedis.SharedConfiguration();
        var signals = 0;
        // Stream reads only when woken: the entry below is not on the stream when its message arrives.
        var node = await StartNodeAsync(redis, o => o.Events.OnSignal = _ => { Interlocked.Increment(ref signals); return Task.CompletedTask; }, o => o.PollInterval = TimeSpan.FromMinutes(5));
        var alice = await SignInAsync(node, "alice", "s-alice");
        var bob = await SignInAsync(node, "bob", "s-bob");
        var aliceClient = await ConnectAsync(node, alice);
        var bobClient = await ConnectAsync(node, bob);
        var application = node.Services.GetRequiredService<IOptions<AutoSignOutRedisOptions>>().Value.ApplicationName!;
        var entry = SignalEntry.Create(new SignOutSignal { Issuer = _op.Issuer, SessionId = "s-alice", CreatedAt = DateTimeOffset.UtcNow }, application, "other-node");
        await using var writer = await ConnectionMultiplexer.ConnectAsync(redis);
        var channel = RedisChannel.Literal(_prefix + "signals:new");

        // Messages that carry nothing usable only wake the reader: a bare wake-up, a line of junk, another app's entry.
        await writer.GetSubscriber().PublishAsync(channel, "junk\nwith\nlines");
        await writer.GetSubscriber().PublishAsync(channel, SignalEntry.Message([.. entry.Select(f => f.Name == "app" ? new NameValueEntry("app", "another-app") : f)]));
        await aliceClient.AssertAliveAsync();

        await writer.GetSubscriber().PublishAsync(channel, SignalEntry.Message(entry));
        await aliceClient.AssertClosedAsync(Eventually);
        await bobClient.AssertAliveAsync();
        Assert.AreEqual(0, await writer.GetDatabase().StreamLengthAsync(_prefix + "signals"), "applied from the message alone");
        Assert.AreEqual(HttpStatusCode.Found, (await GetMeAsync(node, alice)).StatusCode);

        // The same entry on the stream afterwards (as the writing node appends it): read, and not applied again.
        await writer.GetDatabase().StreamAddAsync(_prefix + "signals", entry);
        await writer.GetSubscriber().PublishAsync(channel, string.Empty);
        var stream = node.Services.GetRequiredService<RedisSignalStream>();
        var deadline = DateTime.UtcNow + Eventually;
        while (stream.LastId == "0-0" && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.AreNotEqual("0-0", stream.LastId, "the node read the entry from the stream");
        Assert.AreEqual(1, Volatile.Read(ref signals), "applied once");
        await bobClient.AssertAliveAsync();
    }

    [TestMethod]
    public async Task The_request_path_of_a_session_that_is_not_revoked_makes_no_Redis_call()
    {
        await using var redis = await PrivateRedisServer.StartAsync();
        var node = await StartNodeAsync(redis.Configuration, redisOptions: o => o.PollInterval = TimeSpan.FromMinutes(5));
        var bob = await SignInAsync(node, "bob", "s-bob");
        await using var client = await ConnectAsync(node, bob);
        Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(node, bob)).StatusCode);
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration + ",allowAdmin=true");
        var before = await CommandCallsAsync(admin);

        for (var i = 0; i < 20; i++)
        {
            Assert.AreEqual(HttpStatusCode.OK, (await GetMeAsync(node, bob)).StatusCode);
            Assert.AreEqual("x", await client.Connection.InvokeAsync<string>("Echo", "x"));
        }

        var after = await CommandCallsAsync(admin);
        CollectionAssert.AreEquivalent(before.ToList(), after.ToList(), "no command but the check's own INFO");
    }

    /// <summary>Calls per command, less the commands of this check and of the connections' keep-alive.</summary>
    private static async Task<Dictionary<string, long>> CommandCallsAsync(ConnectionMultiplexer admin)
    {
        var info = await admin.GetServer(admin.GetEndPoints()[0]).InfoRawAsync("commandstats");
        return info!.Split('\n')
            .Where(l => l.StartsWith("cmdstat_", StringComparison.Ordinal))
            .Select(l => (Name: l[8..l.IndexOf(':', StringComparison.Ordinal)], Calls: long.Parse(l.Split("calls=")[1].Split(',')[0], System.Globalization.CultureInfo.InvariantCulture)))
            .Where(c => c.Name is not ("info" or "ping" or "echo"))
            .ToDictionary(c => c.Name, c => c.Calls);
    }

    private async Task<TestClientApp> StartNodeAsync(string redis, Action<AutoSignOutOptions>? configure = null, Action<AutoSignOutRedisOptions>? redisOptions = null)
    {
        var node = await TestClientApp.StartAsync(_op, configure, services =>
        {
            services.AddAutoSignOut().AddRedis(redis, o =>
            {
                o.KeyPrefix = _prefix;
                redisOptions?.Invoke(o);
            });

            // The nodes of one app share their data protection keys, so a cookie issued by one is read by all.
            services.AddDataProtection().SetApplicationName("autosignout-redis-tests");
            services.Configure<KeyManagementOptions>(o => o.XmlRepository = _keys);
        });
        _nodes.Add(node);

        // As a load balancer would, send it requests once it reports ready: current with the stream. (A node that is
        // not yet, e.g. after a connection hiccup at start, refuses every cookie, which is not what these tests ask.)
        var link = node.Services.GetRequiredService<RedisLinkState>();
        var deadline = DateTime.UtcNow + Eventually;
        while (!link.IsCurrent && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        Assert.IsTrue(link.IsCurrent, "the node caught up with the stream");
        return node;
    }

    /// <summary>Signs in on <paramref name="node"/> and returns the cookie header, as a browser behind a load balancer keeps sending it.</summary>
    private static async Task<string> SignInAsync(TestClientApp node, string sub, string sid)
    {
        var browser = node.CreateBrowser();
        await browser.SignInAsync(sub, sid);
        return browser.Cookies.GetCookieHeader(new Uri(node.BaseAddress));
    }

    private static async Task<HttpResponseMessage> GetMeAsync(TestClientApp node, string cookie)
    {
        using var http = new HttpClient(new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, node.BaseAddress + "/me");
        request.Headers.Add("Cookie", cookie);
        return await http.SendAsync(request);
    }

    private static async Task<HubClient> ConnectAsync(TestClientApp node, string cookie)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(node.BaseAddress + "/hub", HttpTransportType.WebSockets, o => o.Headers["Cookie"] = cookie)
            .Build();
        var client = new HubClient(connection);
        await connection.StartAsync();
        await client.WaitUntilServedAsync();
        return client;
    }

    /// <summary>The key ring of the app's nodes, held in memory for the test.</summary>
    private sealed class InMemoryKeyRepository : IXmlRepository
    {
        private readonly List<XElement> _elements = [];

        public IReadOnlyCollection<XElement> GetAllElements()
        {
            lock (_elements)
            {
                return [.. _elements.Select(e => new XElement(e))];
            }
        }

        public void StoreElement(XElement element, string friendlyName)
        {
            lock (_elements)
            {
                _elements.Add(new XElement(element));
            }
        }
    }
}
