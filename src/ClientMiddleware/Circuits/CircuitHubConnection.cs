using System.Security.Claims;
using Microsoft.AspNetCore.SignalR;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// One SignalR connection of Blazor's hub, as seen by <see cref="CircuitHubGate"/>: who opened it, when their
/// credentials were issued, and the circuit it carries. The circuit handler finds it through <see cref="Current"/>,
/// which the gate sets around each hub invocation and which flows into the circuit's handlers.
/// </summary>
internal sealed class CircuitHubConnection(HubCallerContext context, IHubClients clients, IssueTime issuedAt)
{
    private static readonly AsyncLocal<CircuitHubConnection?> CurrentSlot = new();
    private volatile CircuitLiveConnection? _circuit;
    private volatile string? _circuitSecret;
    private readonly TaskCompletionSource _whenDisconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _disconnected;

    /// <summary>The connection whose hub invocation is running on this flow, if any.</summary>
    public static CircuitHubConnection? Current
    {
        get => CurrentSlot.Value;
        set => CurrentSlot.Value = value;
    }

    public HubCallerContext Context => context;

    public ClaimsPrincipal? User => context.User;

    public string ConnectionId => context.ConnectionId;

    public IHubClients Clients => clients;

    /// <summary>When the connection's credentials were issued; unknown when the authentication service did not say.</summary>
    public IssueTime IssuedAt => issuedAt;

    /// <summary>The circuit this connection carries, once the circuit handler has attached it.</summary>
    public CircuitLiveConnection? Circuit
    {
        get => _circuit;
        set => _circuit = value;
    }

    /// <summary>The circuit's reconnection secret, as returned by <c>StartCircuit</c> or sent to <c>ConnectCircuit</c>.</summary>
    public string? CircuitSecret
    {
        get => _circuitSecret;
        set => _circuitSecret = value;
    }

    public bool Disconnected
    {
        get => _disconnected;
        set
        {
            _disconnected = value;
            if (value)
            {
                _whenDisconnected.TrySetResult();
            }
        }
    }

    /// <summary>Completes when the connection is gone (the browser left the page, or the server aborted it).</summary>
    public Task WhenDisconnected => _whenDisconnected.Task;
}
