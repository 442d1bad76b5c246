using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// What <see cref="AutoSignOutHubFilter"/> does for Blazor's own hub once circuits are enabled. A Blazor hub connection
/// is not registered as a hub connection: its circuit is (by <see cref="AutoSignOutCircuitHandler"/>), so a signal
/// first sends the browser away and only then closes the connection. The gate makes each connection known to the
/// circuit handler, refuses every hub call of a signed-out circuit, and refuses reconnecting to or resuming a
/// signed-out circuit by its secret.
/// </summary>
internal sealed class CircuitHubGate
{
    private const string ComponentHubTypeName = "Microsoft.AspNetCore.Components.Server.ComponentHub";
    private const string SignedOutMessage = "The session was signed out.";

    private readonly ConcurrentDictionary<string, long> _revokedSecrets = new(StringComparer.Ordinal);
    private readonly IRevokedSessionStore _store;
    private readonly AutoSignOutMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly long _secretLifetimeTicks;
    private long _nextSweepTicks;

    public CircuitHubGate(IRevokedSessionStore store, AutoSignOutMetrics metrics, TimeProvider time, IOptions<CircuitOptions> circuitOptions, ILogger<CircuitHubGate> logger)
    {
        _store = store;
        _metrics = metrics;
        _time = time;
        _logger = logger;

        // As long as Blazor may still hold the circuit: retained while disconnected, then persisted for resumption.
        var options = circuitOptions.Value;
        var distributed = options.PersistedCircuitDistributedRetentionPeriod ?? TimeSpan.Zero;
        var persisted = options.PersistedCircuitInMemoryRetentionPeriod > distributed ? options.PersistedCircuitInMemoryRetentionPeriod : distributed;
        _secretLifetimeTicks = (options.DisconnectedCircuitRetentionPeriod + persisted + TimeSpan.FromMinutes(5)).Ticks;
    }

    /// <summary>Whether <paramref name="hub"/> is Blazor's hub (an internal type, so matched by name).</summary>
    public static bool IsComponentHub(Hub hub) => string.Equals(hub.GetType().FullName, ComponentHubTypeName, StringComparison.Ordinal);

    /// <summary>The number of remembered signed-out circuit secrets.</summary>
    public int RevokedSecretCount => _revokedSecrets.Count;

    public Task OnConnectedAsync(HubLifetimeContext context, IHubClients clients, Func<HubLifetimeContext, Task> next)
    {
        var caller = context.Context;
        caller.Features.Set(new CircuitHubConnection(caller, clients, AutoSignOutHubFilter.IssuedAtOf(caller)));
        return next(context);
    }

    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var connection = invocationContext.Context.Features.Get<CircuitHubConnection>();
        if (connection is null)
        {
            return next(invocationContext);
        }

        var circuit = connection.Circuit;
        if (circuit is not null && (circuit.IsSignedOut || _store.IsRevoked(circuit.Issuer, circuit.Keys, circuit.IssuedAt)))
        {
            if (!circuit.SignOutCompleted)
            {
                // The sign-out is under way: drop the call (Blazor's are one-way sends) and keep the connection open,
                // so the navigation being sent still arrives.
                _metrics.Refused("circuit_invocation");
                Log.CircuitActivityRefused(_logger, "circuit_invocation", circuit.Id);
                return ValueTask.FromResult<object?>(null);
            }

            Refuse(invocationContext, "circuit_invocation", circuit.Id);
        }

        // Only these calls open or re-attach a circuit (and so run its handlers); events and acknowledgements go straight through.
        return invocationContext.HubMethodName is "StartCircuit" or "UpdateRootComponents" or "ConnectCircuit" or "ResumeCircuit"
            ? InvokeAttachingAsync(connection, invocationContext, next)
            : next(invocationContext);
    }

    private async ValueTask<object?> InvokeAttachingAsync(
        CircuitHubConnection connection, HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        var method = invocationContext.HubMethodName;
        if (method is "ConnectCircuit" or "ResumeCircuit" && invocationContext.HubMethodArguments.Count > 0 && invocationContext.HubMethodArguments[0] is string secret)
        {
            if (IsRevokedSecret(secret))
            {
                // Answered as Blazor answers an unknown circuit (false, null): the browser gives up and reloads the
                // page, which the revoked cookie no longer opens. Nothing of the circuit is reached.
                var where = method == "ConnectCircuit" ? "circuit_reconnect" : "circuit_resume";
                _metrics.Refused(where);
                Log.CircuitActivityRefused(_logger, where, "-");
                return method == "ConnectCircuit" ? false : null;
            }

            connection.CircuitSecret = secret;
        }

        // Flows into the circuit handlers Blazor runs for this call, which so learn the connection that carries the circuit.
        var previous = CircuitHubConnection.Current;
        CircuitHubConnection.Current = connection;
        try
        {
            var result = await next(invocationContext);
            if (method is "StartCircuit" or "ResumeCircuit" && result is string newSecret)
            {
                connection.CircuitSecret = newSecret;
            }

            return result;
        }
        finally
        {
            CircuitHubConnection.Current = previous;
        }
    }

    public Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        if (context.Context.Features.Get<CircuitHubConnection>() is { } connection)
        {
            connection.Disconnected = true;
        }

        return next(context, exception);
    }

    /// <summary>Remembers a signed-out circuit's secret, so the circuit can be neither reconnected to nor resumed.</summary>
    public void RevokeSecret(string? secret)
    {
        if (string.IsNullOrEmpty(secret))
        {
            return;
        }

        var now = _time.GetUtcNow().UtcTicks;
        _revokedSecrets[secret] = now + _secretLifetimeTicks;
        if (now >= Volatile.Read(ref _nextSweepTicks))
        {
            Volatile.Write(ref _nextSweepTicks, now + TimeSpan.TicksPerMinute);
            foreach (var entry in _revokedSecrets)
            {
                if (entry.Value < now)
                {
                    _revokedSecrets.TryRemove(entry);
                }
            }
        }
    }

    public bool IsRevokedSecret(string secret) =>
        !_revokedSecrets.IsEmpty && _revokedSecrets.TryGetValue(secret, out var expires) && expires >= _time.GetUtcNow().UtcTicks;

    [DoesNotReturn]
    private void Refuse(HubInvocationContext invocationContext, string where, string circuitId)
    {
        _metrics.Refused(where);
        Log.CircuitActivityRefused(_logger, where, circuitId);
        invocationContext.Context.Abort();
        throw new HubException(SignedOutMessage);
    }
}
