using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// The global hub filter: registers every authenticated hub connection under its keys, refuses a connection or
/// invocation of a revoked session, and unregisters the connection when it ends. Once Blazor circuits are enabled
/// (<c>AddBlazorCircuits</c>), Blazor's own hub is left to <see cref="CircuitHubGate"/>: its circuits, not its
/// connections, are what a signal closes, so the browser is sent away before the connection is aborted.
/// </summary>
internal sealed class AutoSignOutHubFilter(
    IOptions<AutoSignOutOptions> options,
    LiveConnectionRegistry registry,
    IRevokedSessionStore store,
    AutoSignOutMetrics metrics,
    TimeProvider time,
    ILogger<AutoSignOutHubFilter> logger,
    CircuitHubGate? circuits = null) : IHubFilter
{
    private const string SignedOutMessage = "The session was signed out.";
    private const string SignedOutReason = "signed_out";
    private readonly AutoSignOutOptions _options = options.Value;
    private readonly ConcurrentDictionary<Type, IHubClients> _clientsByHub = new();

    public async Task OnConnectedAsync(HubLifetimeContext context, Func<HubLifetimeContext, Task> next)
    {
        if (circuits is not null && CircuitHubGate.IsComponentHub(context.Hub))
        {
            await circuits.OnConnectedAsync(context, GetClients(context), next);
            return;
        }

        var caller = context.Context;
        var principal = caller.User;
        if (principal?.Identity?.IsAuthenticated != true)
        {
            await next(context);
            return;
        }

        var keys = _options.ConnectionKeys(principal);
        if (keys.Count == 0)
        {
            await next(context);
            return;
        }

        var issuedAt = IssuedAtOf(caller);
        var connection = new HubLiveConnection(caller, GetClients(context), _options.ClientMethod, _options.FarewellTimeout, time, principal.FindIssuer(), keys, issuedAt);

        // Registered before the revocation check: a signal that lands in between either sees the connection or is seen by the check.
        registry.Register(connection);
        if (store.IsRevoked(connection.Issuer, keys, issuedAt))
        {
            // A signal that landed between the handshake and this registration: the client already counts itself
            // connected, so it is told, like every closed connection, before it is refused.
            registry.Unregister(connection);
            Refuse("hub_connect");
            await connection.Clients.Client(caller.ConnectionId).SendAsync(_options.ClientMethod, SignedOutReason, caller.ConnectionAborted);
            throw new HubException(SignedOutMessage);
        }

        caller.Features.Set(connection);
        try
        {
            await next(context);
        }
        catch
        {
            registry.Unregister(connection);
            throw;
        }
    }

    public ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (circuits is not null && CircuitHubGate.IsComponentHub(invocationContext.Hub))
        {
            return circuits.InvokeMethodAsync(invocationContext, next);
        }

        var connection = invocationContext.Context.Features.Get<HubLiveConnection>();
        if (connection is not null && (connection.IsSignedOut || store.IsRevoked(connection.Issuer, connection.Keys, connection.IssuedAt)))
        {
            // The gap between the revocation and the abort: refuse, and close the connection if the signal has not yet.
            Refuse("hub_invocation");
            invocationContext.Context.Abort();
            throw new HubException(SignedOutMessage);
        }

        return next(invocationContext);
    }

    public Task OnDisconnectedAsync(HubLifetimeContext context, Exception? exception, Func<HubLifetimeContext, Exception?, Task> next)
    {
        if (circuits is not null && CircuitHubGate.IsComponentHub(context.Hub))
        {
            return circuits.OnDisconnectedAsync(context, exception, next);
        }

        if (context.Context.Features.Get<HubLiveConnection>() is { } connection)
        {
            registry.Unregister(connection);
        }

        return next(context, exception);
    }

    /// <summary>
    /// When the connection's credentials were issued: from its identities (which survive long polling's cloned context
    /// and a policy's merged principal), else from the request; unknown counts as old, never as now.
    /// </summary>
    internal static IssueTime IssuedAtOf(HubCallerContext caller)
    {
        var fromPrincipal = caller.User is { } user ? CredentialIssueTimes.Find(user) : IssueTime.Unknown;
        return fromPrincipal.Clock != IssueTimeClock.Unknown
            ? fromPrincipal
            : caller.GetHttpContext()?.Features.Get<AuthenticatedSessionFeature>()?.IssuedAt ?? IssueTime.Unknown;
    }

    private IHubClients GetClients(HubLifetimeContext context) =>
        _clientsByHub.GetOrAdd(
            context.Hub.GetType(),
            static (hubType, services) => ((IHubContext)services.GetRequiredService(typeof(IHubContext<>).MakeGenericType(hubType))).Clients,
            context.ServiceProvider);

    private void Refuse(string where)
    {
        metrics.Refused(where);
        Log.RevokedCredentialsRefused(logger, where, null);
    }
}
