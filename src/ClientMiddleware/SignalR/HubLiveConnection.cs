using Microsoft.AspNetCore.SignalR;

namespace AutoSignOut.AspNetCore;

/// <summary>A SignalR hub connection registered by <see cref="AutoSignOutHubFilter"/>.</summary>
internal sealed class HubLiveConnection(
    HubCallerContext context, IHubClients clients, string clientMethod, TimeSpan farewellTimeout, TimeProvider time,
    string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt)
    : LiveConnection(issuer, keys, issuedAt)
{
    public override string Kind => "hub";

    public override string Id => context.ConnectionId;

    public HubCallerContext Context => context;

    public IHubClients Clients => clients;

    /// <summary>
    /// Sends the reason to the client, then aborts the connection server-side whether the send worked or not. The send
    /// is bounded by the farewell timeout: a client that stops reading cannot hold its own abort back.
    /// </summary>
    protected internal override async ValueTask CloseAsync(SignOutSignal signal, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(farewellTimeout);
            await clients.Client(context.ConnectionId).SendAsync(clientMethod, signal.Reason, timeout.Token).WaitAsync(farewellTimeout, time, cancellationToken);
        }
        finally
        {
            context.Abort();
        }
    }
}
