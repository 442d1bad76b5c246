using AutoSignOut.AspNetCore.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace AutoSignOut.AspNetCore.Tests;

/// <summary>The revoked-session set, the replay cache, the registry and option validation, on their own.</summary>
[TestClass]
public sealed class RevocationStateTests
{
    private static readonly DateTimeOffset Start = new(2026, 11, 24, 12, 0, 0, TimeSpan.Zero);

    private static InMemoryRevokedSessionStore Store(FakeTimeProvider time, TimeSpan? lifetime = null) =>
        new(Options.Create(new AutoSignOutOptions { RevocationLifetime = lifetime ?? TimeSpan.FromHours(1) }), time);

    [TestMethod]
    public async Task A_revoked_key_covers_credentials_issued_up_to_the_revocation_and_not_after()
    {
        var time = new FakeTimeProvider(Start);
        using var store = Store(time);
        await store.RevokeAsync("https://op", [ConnectionKey.Subject("alice")], Start);

        Assert.IsTrue(store.IsRevoked("https://op", [ConnectionKey.Subject("alice")], Start.AddMinutes(-5)));
        Assert.IsTrue(store.IsRevoked("https://op", [ConnectionKey.Subject("alice")], Start));
        Assert.IsFalse(store.IsRevoked("https://op", [ConnectionKey.Subject("alice")], Start.AddTicks(1)), "a sign-in after the revocation works");
        Assert.IsFalse(store.IsRevoked("https://op", [ConnectionKey.Subject("bob")], Start.AddMinutes(-5)));
        Assert.IsFalse(store.IsRevoked("https://other-op", [ConnectionKey.Subject("alice")], Start.AddMinutes(-5)), "another issuer's user of the same name");
    }

    [TestMethod]
    public async Task A_revocation_for_any_issuer_covers_every_issuer()
    {
        var time = new FakeTimeProvider(Start);
        using var store = Store(time);
        await store.RevokeAsync(null, [ConnectionKey.Session("s1")], Start);
        Assert.IsTrue(store.IsRevoked("https://op", [ConnectionKey.Subject("alice"), ConnectionKey.Session("s1")], Start));
        Assert.IsTrue(store.IsRevoked(null, [ConnectionKey.Session("s1")], Start));
    }

    [TestMethod]
    public async Task Revocations_expire_so_the_set_stays_bounded()
    {
        var time = new FakeTimeProvider(Start);
        using var store = Store(time, TimeSpan.FromMinutes(10));
        for (var i = 0; i < 1000; i++)
        {
            await store.RevokeAsync(null, [ConnectionKey.Session("s" + i)], Start);
        }

        Assert.AreEqual(1000, store.Count);
        time.Advance(TimeSpan.FromMinutes(9));
        Assert.IsTrue(store.IsRevoked(null, [ConnectionKey.Session("s1")], Start));
        time.Advance(TimeSpan.FromMinutes(2));
        Assert.IsFalse(store.IsRevoked(null, [ConnectionKey.Session("s1")], Start), "an expired entry no longer applies");
        time.Advance(TimeSpan.FromMinutes(10));
        Assert.AreEqual(0, store.Count, "the sweeper removed the expired entries");
    }

    [TestMethod]
    public async Task The_replay_cache_refuses_a_jti_until_its_token_expires_then_forgets_it()
    {
        var time = new FakeTimeProvider(Start);
        using var cache = new InMemoryLogoutTokenReplayCache(time);
        Assert.IsTrue(await cache.TryAddAsync("iss", "j1", Start.AddMinutes(4)));
        Assert.IsFalse(await cache.TryAddAsync("iss", "j1", Start.AddMinutes(4)));
        Assert.IsTrue(await cache.TryAddAsync("other-iss", "j1", Start.AddMinutes(4)), "jtis are per issuer");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.AreEqual(0, cache.Count, "swept once expired");
        Assert.IsTrue(await cache.TryAddAsync("iss", "j1", Start.AddMinutes(9)));
    }

    [TestMethod]
    public async Task The_registry_stays_consistent_under_concurrent_register_and_unregister()
    {
        var registry = new LiveConnectionRegistry();
        var connections = Enumerable.Range(0, 4000)
            .Select(i => new FakeConnection([ConnectionKey.Session("s" + (i % 50)), ConnectionKey.Subject("u" + (i % 7))]))
            .ToArray();
        await Task.WhenAll(connections.Chunk(500).Select(chunk => Task.Run(() =>
        {
            foreach (var c in chunk)
            {
                registry.Register(c);
            }
        })));
        Assert.AreEqual(4000, registry.Count);

        await Task.WhenAll(connections.Where((_, i) => i % 2 == 0).Chunk(500).Select(chunk => Task.Run(() =>
        {
            foreach (var c in chunk)
            {
                registry.Unregister(c);
                registry.Unregister(c);
            }
        })));
        Assert.AreEqual(2000, registry.Count);

        var matches = registry.FindMatches(null, [ConnectionKey.Subject("u3"), ConnectionKey.Session("s3")], DateTimeOffset.MaxValue);
        var expected = connections.Where((c, i) => i % 2 == 1 && (i % 7 == 3 || i % 50 == 3)).ToHashSet();
        Assert.AreEqual(expected.Count, matches.Count, "each match once, even when both keys name it");
        Assert.IsTrue(matches.All(expected.Contains));
    }

    [TestMethod]
    public void The_registry_matches_only_the_signals_issuer_and_credentials_issued_before_it()
    {
        var registry = new LiveConnectionRegistry();
        var old = new FakeConnection([ConnectionKey.Subject("alice")], "https://op", Start.AddMinutes(-1));
        var fresh = new FakeConnection([ConnectionKey.Subject("alice")], "https://op", Start.AddMinutes(1));
        var otherIssuer = new FakeConnection([ConnectionKey.Subject("alice")], "https://other", Start.AddMinutes(-1));
        registry.Register(old);
        registry.Register(fresh);
        registry.Register(otherIssuer);

        CollectionAssert.AreEquivalent(new[] { old }, registry.FindMatches("https://op", [ConnectionKey.Subject("alice")], Start).ToArray());
        CollectionAssert.AreEquivalent(new[] { old, otherIssuer }, registry.FindMatches(null, [ConnectionKey.Subject("alice")], Start).ToArray());
    }

    [TestMethod]
    public async Task Invalid_options_fail_at_start_not_at_the_first_token()
    {
        await AssertStartFailsAsync(o => o.AllowedAlgorithms.Add("none"), "none");
        await AssertStartFailsAsync(o => o.Providers.Add(new OpenIdProvider { Authority = "http://op.example", ClientIds = { "c" } }), "HTTPS");
        await AssertStartFailsAsync(o => o.Providers.Add(new OpenIdProvider { Authority = "https://op.example" }), "client id");
        await AssertStartFailsAsync(o => o.Providers.Add(new OpenIdProvider { ClientIds = { "c" } }), "Issuer or an Authority");
        await AssertStartFailsAsync(o => o.Providers.Add(new OpenIdProvider { Issuer = "https://op.example", ClientIds = { "c" } }), "SigningKeys");
        await AssertStartFailsAsync(o => o.ClockSkew = TimeSpan.FromHours(1), "ClockSkew");
        await AssertStartFailsAsync(o => o.MaxRequestBodySize = 10 * 1024 * 1024, "MaxRequestBodySize");
        await AssertStartFailsAsync(o => o.RevocationLifetime = TimeSpan.Zero, "RevocationLifetime");
    }

    private static async Task AssertStartFailsAsync(Action<AutoSignOutOptions> configure, string expectedMessagePart)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddAutoSignOut(configure);
        await using var app = builder.Build();
        var error = await Assert.ThrowsExactlyAsync<OptionsValidationException>(() => app.StartAsync());
        StringAssert.Contains(error.Message, expectedMessagePart);
    }

    private sealed class FakeConnection(IReadOnlyList<ConnectionKey> keys, string? issuer = null, DateTimeOffset? issuedAt = null)
        : LiveConnection(issuer, keys, issuedAt ?? Start)
    {
        public override string Kind => "fake";

        public override string Id => "fake";

        protected internal override ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken) => ValueTask.CompletedTask;
    }
}
