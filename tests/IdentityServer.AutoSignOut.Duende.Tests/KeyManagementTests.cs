using System.Text.Json;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using Duende.IdentityServer.EntityFramework.DbContexts;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// Duende's automatic key management (its default) with the keys in the EF operational store: logout tokens are signed
/// with the managed key the discovery document's JWKS publishes, and after the key is replaced by a new one, logout tokens
/// signed with the new key still verify at the client app's back-channel endpoint, which has cached the old JWKS.
/// </summary>
[TestClass]
public sealed class KeyManagementTests
{
    private static Stack _stack = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) => _stack = await Stack.StartAsync(keyManagement: true);

    [ClassCleanup]
    public static async Task StopAsync() => await _stack.DisposeAsync();

    [TestMethod]
    public async Task Logout_tokens_signed_with_managed_keys_verify_before_and_after_the_key_is_replaced()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        await alice.User.LogOutAtIdpAsync();
        await alice.AssertSignedOutAsync(RevocationReasons.Logout);
        var before = await PublishedKeyIdsAsync();
        Assert.IsTrue(before.Count > 0, "the JWKS publishes the managed key");

        // A forced rotation: the managed keys are gone from the store, so Duende creates a new one, publishes it instead
        // of the old one and signs with it. The client app's back-channel endpoint has the old JWKS cached.
        await _stack.Idp.InScopeAsync(s => s.GetRequiredService<PersistedGrantDbContext>().Keys.ExecuteDeleteAsync());
        var after = await PublishedKeyIdsAsync();
        Assert.IsFalse(after.Overlaps(before), $"a new key is published ({string.Join(", ", before)} -> {string.Join(", ", after)})");

        await bob.User.LogOutAtIdpAsync();

        await bob.AssertSignedOutAsync(RevocationReasons.Logout);
    }

    private static async Task<HashSet<string>> PublishedKeyIdsAsync()
    {
        using var http = new HttpClient();
        var discovery = JsonDocument.Parse(await http.GetStringAsync($"{_stack.IdpAddress}/.well-known/openid-configuration")).RootElement;
        var jwks = JsonDocument.Parse(await http.GetStringAsync(discovery.GetProperty("jwks_uri").GetString())).RootElement;
        return [.. jwks.GetProperty("keys").EnumerateArray().Select(k => k.GetProperty("kid").GetString()!)];
    }
}
