using Microsoft.AspNetCore.SignalR;

namespace AutoSignOut.AspNetCore;

/// <summary>A SignalR hub connection registered by <see cref="AutoSignOutHubFilter"/>.</summary>
internal sealed class HubLiveConnection(
    HubCallerContext context, IHubClients clients, string clientMethod, string? issuer, IReadOnlyList<ConnectionKey> keys, DateTimeOffset issuedAt)
    : LiveConnection(issuer, keys, issuedAt)
{
    public override string Kind => "hub";

    public override string Id => context.ConnectionId;

    public HubCallerContext Context => context;

    public IHubClients Clients => clients;

    /// <summary>Sends the reason to the client, then aborts the connection server-side whether the send worked or not.</summary>
    protected internal override async ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken)
    {
        try
        {
            await clients.Client(context.ConnectionId).SendAsync(clientMethod, signal.Reason, cancellationToken);
        }
        finally
        {
            context.Abort();
        }
    }
}
