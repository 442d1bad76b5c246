using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.IdentityServer.OpenIddict.Tests.Infrastructure;

/// <summary>The IdP and the real hosts/ClientApp pointed at it, both on Kestrel at 127.0.0.1.</summary>
internal sealed class Stack : IIdentityProviderStack, IAsyncDisposable
{
    private readonly WebApplication _client;

    private Stack(TestIdentityProvider idp, WebApplication client, string clientAddress)
    {
        Idp = idp;
        _client = client;
        ClientAddress = clientAddress;
    }

    public TestIdentityProvider Idp { get; }

    public string ClientAddress { get; }

    public IServiceProvider ClientServices => _client.Services;

    public static async Task<Stack> StartAsync(Action<AutoSignOutOpenIddictOptions>? configure = null)
    {
        var clientAddress = $"http://127.0.0.1:{TestIdentityProvider.FreePort()}";
        var idp = await TestIdentityProvider.StartAsync(clientAddress, configure);
        var client = await ClientAppUnderTest.StartAsync(clientAddress, idp.Issuer);
        return new Stack(idp, client, clientAddress);
    }

    public string IdpAddress => Idp.Address;

    public string ClientId => TestIdentityProvider.ClientId;

    public string CodeFlowScopes => "openid profile offline_access";

    public string LogoutPath => "/connect/logout";

    public TestUser NewUser(string name) => TestUser.Create(this, name);

    public async ValueTask DisposeAsync()
    {
        await _client.StopAsync();
        await _client.DisposeAsync();
        await Idp.DisposeAsync();
    }
}
