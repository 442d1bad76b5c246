using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>The jti index: live tokens remembered at issue, named in <c>revoked_jti</c> when their session ends.</summary>
[TestClass]
public sealed class IssuedTokenIndexTests
{
    public static IEnumerable<object[]> Providers => OutboxTests.Providers;

    [TestMethod]
    [DynamicData(nameof(Providers))]
    public async Task Index_finds_live_tokens_by_session_else_by_subject_and_forgets_expired_ones(string provider)
    {
        await using var database = provider == "SQLite" ? TestDatabase.SqliteFile() : await TestDatabase.PostgresAsync();
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(time, start: false, database: database, services: s => s.AddAutoSignOutEntityFrameworkTokenIndex());
        var index = engine.Services.GetRequiredService<IIssuedTokenIndex>();
        var now = time.GetUtcNow();
        await index.RecordAsync(new IssuedToken("at-1", "web", "alice", "s-1", now.AddMinutes(5)), default);
        await index.RecordAsync(new IssuedToken("rt-1", "web", "alice", "s-1", now.AddDays(1)), default);
        await index.RecordAsync(new IssuedToken("at-2", "api", "alice", "s-2", now.AddMinutes(5)), default);
        await index.RecordAsync(new IssuedToken("at-old", "web", "alice", "s-1", now.AddMinutes(-1)), default);
        await index.RecordAsync(new IssuedToken("at-bob", "web", "bob", "s-3", now.AddMinutes(5)), default);

        var bySession = await index.FindAsync("alice", "s-1", now, default);
        var bySubject = await index.FindAsync("alice", null, now, default);
        var removed = await index.RemoveExpiredAsync(now, default);

        CollectionAssert.AreEquivalent(new[] { "at-1", "rt-1" }, bySession.Select(t => t.TokenId).ToArray());
        CollectionAssert.AreEquivalent(new[] { "at-1", "rt-1", "at-2" }, bySubject.Select(t => t.TokenId).ToArray());
        Assert.AreEqual(1, removed);
    }

    [TestMethod]
    public async Task Ended_session_closes_a_connection_authenticated_by_one_of_its_access_tokens()
    {
        var time = EngineHost.NewClock();
        await using var client = await ClientApp.StartAsync("web", time);
        await using var engine = await EngineHost.CreateAsync(
            time,
            o => o.Clients.Add(new LogoutRecipient(client.ClientId, client.BackChannelLogoutUri)),
            services => services.AddSingleton<IIssuedTokenIndex, InMemoryIssuedTokenIndex>());
        var index = engine.Services.GetRequiredService<IIssuedTokenIndex>();
        // An access token issued in the browser session "s-1" and handed to a script that connects on its own.
        await index.RecordAsync(new IssuedToken("at-1", "web", "alice", "s-1", time.GetUtcNow().AddMinutes(10)), default);
        await using var scripted = await client.ConnectAsync("alice", "s-script", accessTokenId: "at-1");
        await using var other = await client.ConnectAsync("alice", "s-other");
        var closed = new TaskCompletionSource();
        scripted.Closed += _ => { closed.TrySetResult(); return Task.CompletedTask; };

        await engine.Server.SignOutSessionAsync("s-1");

        await closed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.AreEqual(HubConnectionState.Connected, other.State);
    }

    [TestMethod]
    public async Task Each_client_hears_only_its_own_tokens()
    {
        var time = EngineHost.NewClock();
        await using var engine = await EngineHost.CreateAsync(
            time,
            o =>
            {
                o.Clients.Add(new LogoutRecipient("web", new Uri("https://web.test/bcl")));
                o.Clients.Add(new LogoutRecipient("api", new Uri("https://api.test/bcl")));
            },
            services => services.AddSingleton<IIssuedTokenIndex, InMemoryIssuedTokenIndex>(),
            start: false);
        var index = engine.Services.GetRequiredService<IIssuedTokenIndex>();
        await index.RecordAsync(new IssuedToken("at-web", "web", "alice", "s-1", time.GetUtcNow().AddMinutes(10)), default);
        await index.RecordAsync(new IssuedToken("at-api", "api", "alice", "s-1", time.GetUtcNow().AddMinutes(10)), default);

        var notifications = await engine.Server.CreateNotificationsAsync(new Revocation { Subject = "alice", SessionId = "s-1" });

        string[] RevokedFor(string client) => new JsonWebToken(notifications.Single(n => n.ClientId == client).LogoutToken!)
            .GetPayloadValue<string[]>("revoked_jti");
        CollectionAssert.AreEqual(new[] { "at-web" }, RevokedFor("web"));
        CollectionAssert.AreEqual(new[] { "at-api" }, RevokedFor("api"));
    }
}
