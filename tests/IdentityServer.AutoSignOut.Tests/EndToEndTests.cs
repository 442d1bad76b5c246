using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>The engine against the real client middleware on loopback Kestrel, with live SignalR connections.</summary>
[TestClass]
public sealed class EndToEndTests
{
    [TestMethod]
    public async Task Revoked_session_closes_the_receivers_live_connection()
    {
        var time = EngineHost.NewClock();
        await using var client = await ClientApp.StartAsync("client1", time);
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient(client.ClientId, client.BackChannelLogoutUri)));
        await using var alice = await client.ConnectAsync("alice", "session-1");
        await using var bob = await client.ConnectAsync("bob", "session-2");
        var aliceClosed = new TaskCompletionSource();
        var aliceTold = new TaskCompletionSource<string?>();
        alice.On<string?>("signedOut", reason => aliceTold.TrySetResult(reason));
        alice.Closed += _ => { aliceClosed.TrySetResult(); return Task.CompletedTask; };

        await engine.Server.RevokeAsync(new Revocation { Subject = "alice", SessionId = "session-1", Reason = RevocationReasons.AdminRevoked });

        Assert.AreEqual(RevocationReasons.AdminRevoked, await aliceTold.Task.WaitAsync(TimeSpan.FromSeconds(20)));
        await aliceClosed.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.AreEqual(HubConnectionState.Disconnected, alice.State);
        Assert.AreEqual(HubConnectionState.Connected, bob.State);
        Assert.AreEqual("still here", await bob.InvokeAsync<string>("Echo", "still here"));
    }

    [TestMethod]
    public async Task Sign_out_everywhere_closes_every_connection_of_the_subject_at_every_client()
    {
        var time = EngineHost.NewClock();
        await using var web = await ClientApp.StartAsync("web", time);
        await using var admin = await ClientApp.StartAsync("admin", time);
        await using var engine = await EngineHost.CreateAsync(time, o =>
        {
            o.Clients.Add(new LogoutRecipient(web.ClientId, web.BackChannelLogoutUri));
            o.Clients.Add(new LogoutRecipient(admin.ClientId, admin.BackChannelLogoutUri));
        });
        await using var onWeb = await web.ConnectAsync("alice", "session-1");
        await using var onAdmin = await admin.ConnectAsync("alice", "session-7");
        var closed = 0;
        onWeb.Closed += _ => { Interlocked.Increment(ref closed); return Task.CompletedTask; };
        onAdmin.Closed += _ => { Interlocked.Increment(ref closed); return Task.CompletedTask; };

        var enqueued = await engine.Server.SignOutEverywhereAsync("alice");

        Assert.AreEqual(2, enqueued);
        await Eventually.UntilAsync(() => Volatile.Read(ref closed) == 2, "both connections closed");
    }

    [TestMethod]
    public async Task Minted_token_passes_the_client_middlewares_full_validation()
    {
        var time = EngineHost.NewClock();
        await using var client = await ClientApp.StartAsync("client1", time);
        await using var engine = await EngineHost.CreateAsync(time, o => o.Clients.Add(new LogoutRecipient(client.ClientId, client.BackChannelLogoutUri)));

        await engine.Server.SignOutSessionAsync("session-9");

        await Eventually.UntilAsync(() => client.Answered200 == 1, "the middleware answered 200");
        await Eventually.UntilAsync(async () => (await engine.Outbox.GetSnapshotAsync(time.GetUtcNow(), default)).PendingCount == 0, "the outbox is empty");
    }
}
