using System.Diagnostics.Metrics;
using System.Net;
using System.Security.Claims;
using AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;
using Duende.IdentityServer;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Stores;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.IdentityModel.JsonWebTokens;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>
/// Every revocation path of Duende IdentityServer with the binding, end to end: the real code flow into hosts/ClientApp,
/// live SignalR connections with the cookie and with a bearer token, a trigger at the IdP, and the client app closing
/// exactly that session's connections and refusing its credentials afterwards.
/// </summary>
[TestClass]
public sealed class RevocationTriggerTests
{
    private static Stack _stack = null!;

    [ClassInitialize]
    public static async Task StartAsync(TestContext context) => _stack = await Stack.StartAsync();

    [ClassCleanup]
    public static async Task StopAsync() => await _stack.DisposeAsync();

    private static MetricCollector<long> Enqueued() =>
        new(_stack.Idp.Services.GetRequiredService<IMeterFactory>(), AutoSignOutServerDefaults.TelemetryName, "autosignout.server.notifications.enqueued");

    [TestMethod]
    public async Task Logout_at_the_idp_closes_the_sessions_connections_with_one_notification_and_refuses_its_credentials()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        using var enqueued = Enqueued();

        await alice.User.LogOutAtIdpAsync();

        await alice.AssertSignedOutAsync(RevocationReasons.Logout);
        await bob.AssertStillLiveAsync();
        Assert.AreEqual(1, enqueued.GetMeasurementSnapshot().Sum(m => m.Value), "one notification for the one client, though Duende also removed the session's grants");
        Assert.IsFalse(await alice.User.IdpCookieAcceptedAsync(), "the IdP session ended");
    }

    [TestMethod]
    public async Task Admin_session_removal_closes_the_users_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(async s =>
        {
            await s.GetRequiredService<ISessionManagementService>().RemoveSessionsAsync(new RemoveSessionsContext { SubjectId = alice.User.Name });
            return 0;
        });

        await alice.AssertSignedOutAsync(RevocationReasons.AdminRevoked);
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Session_expiry_closes_the_sessions_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        var sid = new JsonWebToken(alice.User.Tokens!.IdToken).GetClaim("sid").Value;

        // What Duende's expired-session cleanup job calls for each session it removes.
        await _stack.Idp.InScopeAsync(async s =>
        {
            await s.GetRequiredService<ISessionCoordinationService>().ProcessExpirationAsync(new UserSession
            {
                SubjectId = alice.User.Name,
                SessionId = sid,
                ClientIds = [TestIdentityServer.ClientId],
                Issuer = _stack.Idp.Address,
            });
            return 0;
        });

        await alice.AssertSignedOutAsync(RevocationReasons.SessionEnded);
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Server_side_session_expired_and_removed_by_Duendes_cleanup_job_closes_the_sessions_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        var sid = new JsonWebToken(alice.User.Tokens!.IdToken).GetClaim("sid").Value;

        // The session's expiry moved into the past, as idle time would: Duende's own cleanup job (every second here)
        // finds it, removes it and runs its expiry coordination, which the binding turns into notifications.
        await _stack.Idp.InScopeAsync(async s =>
        {
            var store = s.GetRequiredService<IServerSideSessionStore>();
            var session = (await store.GetSessionsAsync(new SessionFilter { SessionId = sid })).Single();
            var stored = await store.GetSessionAsync(session.Key);
            stored!.Expires = DateTime.UtcNow.AddMinutes(-1);
            await store.UpdateSessionAsync(stored);
            return 0;
        });

        await alice.AssertSignedOutAsync(RevocationReasons.SessionEnded);
        await bob.AssertStillLiveAsync();
        Assert.IsEmpty(await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IServerSideSessionStore>().GetSessionsAsync(new SessionFilter { SessionId = sid })), "the job removed the session");
    }

    [TestMethod]
    public async Task Refresh_token_revoked_at_the_revocation_endpoint_closes_that_session_at_that_client()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        using var enqueued = Enqueued();

        Assert.AreEqual(HttpStatusCode.OK, await alice.User.RevokeAtEndpointAsync(alice.User.Tokens!.RefreshToken));

        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
        await bob.AssertStillLiveAsync();
        Assert.AreEqual(1, enqueued.GetMeasurementSnapshot().Sum(m => m.Value), "one notification, though Duende removed the refresh token and the session's reference tokens");
    }

    [TestMethod]
    public async Task Reference_access_token_revoked_at_the_revocation_endpoint_closes_that_session_at_that_client()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");
        var sid = new JsonWebToken(alice.User.Tokens!.IdToken).GetClaim("sid").Value;

        // A reference access token of alice's session at the client, as Duende stores one for a client whose
        // AccessTokenType is Reference: a handle, the token itself in the grant store.
        var handle = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IReferenceTokenStore>().StoreReferenceTokenAsync(new Token(global::Duende.IdentityModel.OidcConstants.TokenTypes.AccessToken)
        {
            ClientId = TestIdentityServer.ClientId,
            Issuer = _stack.Idp.Address,
            CreationTime = DateTime.UtcNow,
            Lifetime = 3600,
            AccessTokenType = AccessTokenType.Reference,
            Claims = [new Claim("sub", alice.User.Name), new Claim("sid", sid), new Claim("client_id", TestIdentityServer.ClientId)],
        }));

        Assert.AreEqual(HttpStatusCode.OK, await alice.User.RevokeAtEndpointAsync(handle, "access_token"));

        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task RemoveAllGrantsAsync_closes_the_users_connections()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(async s =>
        {
            using (AutoSignOutRevocationReason.Use(RevocationReasons.PasswordChanged))
            {
                await s.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(alice.User.Name);
            }

            return 0;
        });

        await alice.AssertSignedOutAsync(RevocationReasons.PasswordChanged);
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Grant_store_removal_by_hashed_key_from_admin_code_closes_the_session()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        await using var bob = await LiveUser.StartAsync(_stack, "bob");

        await _stack.Idp.InScopeAsync(async s =>
        {
            var store = s.GetRequiredService<IPersistedGrantStore>();
            var grants = await store.GetAllAsync(new PersistedGrantFilter { SubjectId = alice.User.Name, Type = IdentityServerConstants.PersistedGrantTypes.RefreshToken });
            Assert.IsTrue(grants.Any());
            foreach (var grant in grants)
            {
                await store.RemoveAsync(grant.Key);
            }

            return 0;
        });

        await alice.AssertSignedOutAsync(RevocationReasons.TokenRevoked);
        await bob.AssertStillLiveAsync();
    }

    [TestMethod]
    public async Task Refresh_rotation_code_redemption_and_consent_removal_notify_nobody()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        using var enqueued = Enqueued();

        var old = alice.User.Tokens!.RefreshToken;
        await alice.User.RefreshAsync();
        await alice.User.RefreshAsync();
        await alice.User.GetTokensAsync();
        using var replay = await alice.User.TryRefreshAsync(old);
        await _stack.Idp.InScopeAsync(async s =>
        {
            await s.GetRequiredService<IPersistedGrantStore>().RemoveAllAsync(new PersistedGrantFilter { SubjectId = alice.User.Name, Type = IdentityServerConstants.PersistedGrantTypes.UserConsent });
            await s.GetRequiredService<IPersistedGrantStore>().RemoveAllAsync(new PersistedGrantFilter { SubjectId = alice.User.Name, Type = IdentityServerConstants.PersistedGrantTypes.AuthorizationCode });
            return 0;
        });

        await Task.Delay(500);
        Assert.AreEqual(0, enqueued.GetMeasurementSnapshot().Count, "nothing is enqueued");
        await alice.AssertStillLiveAsync();
        Assert.AreNotEqual(old, alice.User.Tokens.RefreshToken, "the refresh token rotated");
        Assert.AreEqual(HttpStatusCode.BadRequest, replay.StatusCode, "the one-time refresh token was deleted on use");
    }

    [TestMethod]
    public async Task Issued_access_tokens_are_indexed_with_their_session()
    {
        using var alice = _stack.NewUser("alice");
        await alice.SignInAsync();
        var access = new JsonWebToken(alice.Tokens!.AccessToken);
        var sid = access.GetClaim("sid").Value;

        var indexed = await _stack.Idp.InScopeAsync(async s => await s.GetRequiredService<IIssuedTokenIndex>().FindAsync(alice.Name, sid, DateTimeOffset.UtcNow, default));

        Assert.IsTrue(indexed.Any(t => t.TokenId == access.Id && t.ClientId == TestIdentityServer.ClientId && t.SessionId == sid && t.Subject == alice.Name));
    }

    [TestMethod]
    public async Task A_client_with_an_invalid_back_channel_uri_is_reported_at_start_and_skipped_without_failing_the_others()
    {
        await using var alice = await LiveUser.StartAsync(_stack, "alice");
        var check = _stack.Idp.Services.GetServices<IHostedService>().OfType<BackChannelLogoutClientCheck>().Single();
        CollectionAssert.AreEqual(new[] { TestIdentityServer.InvalidClientId }, check.Invalid.ToArray());

        var count = await _stack.Idp.InScopeAsync(s => s.GetRequiredService<IAutoSignOutServer>().RevokeAsync(new Revocation
        {
            Subject = alice.User.Name,
            SessionId = new JsonWebToken(alice.User.Tokens!.IdToken).GetClaim("sid").Value,
            ClientIds = [TestIdentityServer.InvalidClientId, TestIdentityServer.ClientId],
            Reason = RevocationReasons.AdminRevoked,
        }));

        Assert.AreEqual(1, count, "only the valid client");
        await alice.AssertSignedOutAsync(RevocationReasons.AdminRevoked);
    }

    [TestMethod]
    public async Task The_outbox_and_the_jti_index_live_in_the_operational_stores_database()
    {
        await using var connection = new SqliteConnection(_stack.Idp.ConnectionString);
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table'";
        var tables = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                tables.Add(reader.GetString(0));
            }
        }

        CollectionAssert.IsSubsetOf(new[] { "PersistedGrants", "ServerSideSessions", "AutoSignOutOutbox", "AutoSignOutIssuedTokens" }, tables);
    }
}
