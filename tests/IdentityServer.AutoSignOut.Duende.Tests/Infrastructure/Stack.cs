using Microsoft.AspNetCore.Builder;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServer.Duende.Tests.Infrastructure;

/// <summary>Duende IdentityServer and the real hosts/ClientApp pointed at it, both on Kestrel at 127.0.0.1.</summary>
internal sealed class Stack : IIdentityProviderStack, IAsyncDisposable
{
    private readonly WebApplication _client;

    private Stack(TestIdentityServer idp, WebApplication client, string clientAddress)
    {
        Idp = idp;
        _client = client;
        ClientAddress = clientAddress;
    }

    public TestIdentityServer Idp { get; }

    public string ClientAddress { get; }

    /// <param name="withPlugin">Whether the binding is added; without it, Duende's built-in back-channel logout runs.</param>
    /// <param name="backChannelLogoutUri">
    /// Where the IdP sends client-app's logout tokens, given the client app's address; default: the client app's own
    /// endpoint.
    /// </param>
    /// <param name="database">The IdP's database (operational store and outbox); default: a new SQLite file.</param>
    /// <param name="keyManagement">Duende's automatic key management instead of a static signing key.</param>
    /// <param name="sharedTransaction">Whether the notifications are written in the transaction of Duende's EF writes.</param>
    public static async Task<Stack> StartAsync(bool withPlugin = true, Func<string, string>? backChannelLogoutUri = null, Action<DbContextOptionsBuilder>? database = null, bool keyManagement = false, bool sharedTransaction = true)
    {
        var clientAddress = $"http://127.0.0.1:{TestIdentityServer.FreePort()}";
        var idp = await TestIdentityServer.StartAsync(clientAddress, withPlugin, backChannelLogoutUri: backChannelLogoutUri?.Invoke(clientAddress), database: database, keyManagement: keyManagement, sharedTransaction: sharedTransaction);
        var client = await ClientAppUnderTest.StartAsync(clientAddress, idp.Address);
        return new Stack(idp, client, clientAddress);
    }

    public string IdpAddress => Idp.Address;

    public string ClientId => TestIdentityServer.ClientId;

    public string CodeFlowScopes => "openid profile offline_access chat";

    public string LogoutPath => "/logout";

    public TestUser NewUser(string name) => TestUser.Create(this, name);

    public async ValueTask DisposeAsync()
    {
        await _client.StopAsync();
        await _client.DisposeAsync();
        await Idp.DisposeAsync();
    }
}
