using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.JSInterop;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// One per circuit (a scoped <see cref="CircuitHandler"/>): registers the circuit of an authenticated user as a
/// <see cref="CircuitLiveConnection"/>, signs it out on a signal, refuses the inbound activity of a signed-out circuit
/// (which ends the circuit: Blazor terminates a circuit whose inbound activity fails) and refuses its reconnection.
/// </summary>
internal sealed class AutoSignOutCircuitHandler : CircuitHandler
{
    private const string SignedOutMessage = "The circuit's session was signed out.";

    private static readonly Task<AuthenticationState> Anonymous =
        Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity())));

    private readonly IServiceProvider _circuitServices;
    private readonly AutoSignOutOptions _options;
    private readonly AutoSignOutCircuitOptions _circuitOptions;
    private readonly LiveConnectionRegistry _registry;
    private readonly IRevokedSessionStore _store;
    private readonly CircuitHubGate _gate;
    private readonly AutoSignOutMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private SynchronizationContext? _dispatcher;
    private volatile CircuitLiveConnection? _connection;
    private volatile CircuitHubConnection? _hub;
    private volatile bool _signedOut;
    private string _circuitId = string.Empty;

    public AutoSignOutCircuitHandler(
        IServiceProvider circuitServices,
        IOptions<AutoSignOutOptions> options,
        IOptions<AutoSignOutCircuitOptions> circuitOptions,
        LiveConnectionRegistry registry,
        IRevokedSessionStore store,
        CircuitHubGate gate,
        AutoSignOutMetrics metrics,
        TimeProvider time,
        ILogger<AutoSignOutCircuitHandler> logger)
    {
        _circuitServices = circuitServices;
        _options = options.Value;
        _circuitOptions = circuitOptions.Value;
        _registry = registry;
        _store = store;
        _gate = gate;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    /// <summary>First of all handlers, so a signed-out circuit's activity is refused before any other handler sees it.</summary>
    public override int Order => int.MinValue;

    /// <summary>The live connection of the circuit while it acts for an authenticated user.</summary>
    internal CircuitLiveConnection? Connection => _connection;

    /// <summary>Whether a signal signed the circuit out.</summary>
    internal bool IsSignedOut => _signedOut;

    public override async Task OnCircuitOpenedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(circuit);

        var hub = CircuitHubConnection.Current;
        var principal = hub?.User;
        if (hub is null)
        {
            Log.CircuitWithoutHubConnection(_logger, circuit.Id);
            if (_circuitServices.GetService<AuthenticationStateProvider>() is { } provider)
            {
                principal = (await provider.GetAuthenticationStateAsync()).User;
            }
        }

        Open(circuit.Id, hub, principal);
    }

    /// <summary>Starts tracking a circuit. Called on the circuit's dispatcher.</summary>
    /// <param name="circuitId">The circuit id, for logs and telemetry.</param>
    /// <param name="hub">The Blazor hub connection carrying the circuit, when known.</param>
    /// <param name="principal">The circuit's user.</param>
    internal void Open(string circuitId, CircuitHubConnection? hub, ClaimsPrincipal? principal)
    {
        // Handlers run on the circuit's dispatcher: keep it, so a signal from any thread acts on the circuit there.
        _dispatcher = SynchronizationContext.Current;
        _circuitId = circuitId;
        Attach(hub, principal);
    }

    public override Task OnConnectionUpAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        var hub = CircuitHubConnection.Current;
        if (_signedOut)
        {
            // Throwing here makes Blazor terminate the circuit and answer the reconnect with false, so the browser
            // reloads the page, which the revoked cookie no longer opens. (The gate normally refuses it earlier.)
            _gate.RevokeSecret(hub?.CircuitSecret);
            RefuseActivity("circuit_reconnect");
        }

        if (hub is not null && !ReferenceEquals(hub, _hub))
        {
            // A reconnect: Blazor gives the circuit the principal of the new connection, so the keys follow it.
            Attach(hub, hub.User);
        }

        return Task.CompletedTask;
    }

    public override Task OnCircuitClosedAsync(Circuit circuit, CancellationToken cancellationToken)
    {
        if (_connection is { } connection)
        {
            _registry.Unregister(connection);
        }

        return Task.CompletedTask;
    }

    public override Func<CircuitInboundActivityContext, Task> CreateInboundActivityHandler(Func<CircuitInboundActivityContext, Task> next) =>
        context =>
        {
            if (_signedOut)
            {
                // Dropped while the sign-out is sending the navigation; afterwards refused by throwing, which ends the circuit.
                if (_connection is { SignOutCompleted: false })
                {
                    _metrics.Refused("circuit_event");
                    return Task.CompletedTask;
                }

                RefuseActivity("circuit_event");
            }

            if (_connection is { } connection && _store.IsRevoked(connection.Issuer, connection.Keys, connection.IssuedAt))
            {
                // Revoked but not yet reached by the signal (it is on its way, or came before the circuit was registered).
                if (connection.TryMarkSignedOut())
                {
                    _ = SignOutAsync(connection, reason: null, CancellationToken.None).AsTask();
                }

                _metrics.Refused("circuit_event");
                return Task.CompletedTask;
            }

            return next(context);
        };

    /// <summary>Registers the circuit under the keys of <paramref name="principal"/>, replacing an earlier registration.</summary>
    /// <param name="hub">The Blazor hub connection carrying the circuit, when known.</param>
    /// <param name="principal">The circuit's user.</param>
    /// <param name="issuedAt">When the user's credentials were issued, when not known from <paramref name="hub"/>; default: unknown, which counts as old.</param>
    internal void Attach(CircuitHubConnection? hub, ClaimsPrincipal? principal, IssueTime? issuedAt = null)
    {
        _hub = hub;
        var previous = _connection;
        var keys = principal?.Identity?.IsAuthenticated == true ? _options.ConnectionKeys(principal) : [];
        var issued = hub?.IssuedAt is { Clock: not IssueTimeClock.Unknown } fromHub ? fromHub
            : issuedAt ?? (principal is null ? IssueTime.Unknown : CredentialIssueTimes.Find(principal));
        var issuer = keys.Count > 0 ? principal!.FindIssuer() : null;
        if (previous is not null)
        {
            if (keys.SequenceEqual(previous.Keys) && string.Equals(issuer, previous.Issuer, StringComparison.Ordinal))
            {
                if (hub is not null)
                {
                    hub.Circuit = previous;
                }

                return;
            }

            _registry.Unregister(previous);
            _connection = null;
        }

        if (keys.Count == 0)
        {
            return;
        }

        var connection = new CircuitLiveConnection(this, _circuitId, issuer, keys, issued);
        _connection = connection;
        if (hub is not null)
        {
            hub.Circuit = connection;
        }

        // Registered before the revocation check: a signal that lands in between either sees the circuit or is seen by the check.
        _registry.Register(connection);
        Log.CircuitRegistered(_logger, _circuitId);
        if (_store.IsRevoked(issuer, keys, issued) && connection.TryMarkSignedOut())
        {
            _ = SignOutAsync(connection, reason: null, CancellationToken.None).AsTask();
        }
    }

    /// <summary>
    /// Signs the circuit out, in this order: refuse its activity from now on; make its authentication state anonymous
    /// (components re-render signed out); send the browser to the signed-out page with a full page load; send the
    /// hub's sign-out client method, which also flushes the navigation ahead of it; close the connection.
    /// </summary>
    internal async ValueTask SignOutAsync(CircuitLiveConnection connection, string? reason, CancellationToken cancellationToken, string? source = null)
    {
        _signedOut = true;
        var hub = _hub;
        _gate.RevokeSecret(hub?.CircuitSecret);
        var connected = hub is { Disconnected: false };
        try
        {
            await OnDispatcherAsync(() =>
            {
                if (_circuitServices.GetService<AuthenticationStateProvider>() is IHostEnvironmentAuthenticationStateProvider authentication)
                {
                    authentication.SetAuthenticationState(Anonymous);
                }

                if (connected || hub is null)
                {
                    Navigate(reason, source);
                }
            });

            if (connected)
            {
                await hub!.Clients.Client(hub.ConnectionId).SendAsync(_options.ClientMethod, reason, cancellationToken);
            }
        }
        catch when (Close(hub, connection))
        {
            throw;
        }

        if (hub is { Disconnected: false } && _circuitOptions.NavigationGracePeriod > TimeSpan.Zero)
        {
            // The browser is navigating away; closing now would race it (see NavigationGracePeriod). Nobody waits here.
            _ = CloseAfterGraceAsync(hub, connection);
        }
        else
        {
            Close(hub, connection);
        }
    }

    private async Task CloseAfterGraceAsync(CircuitHubConnection hub, CircuitLiveConnection connection)
    {
        try
        {
            await hub.WhenDisconnected.WaitAsync(_circuitOptions.NavigationGracePeriod, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The browser did not leave: close it now.
        }
        finally
        {
            Close(hub, connection);
        }
    }

    /// <summary>Closes the connection and ends the sign-out; false, so it can run in an exception filter.</summary>
    private bool Close(CircuitHubConnection? hub, CircuitLiveConnection connection)
    {
        hub?.Context.Abort();
        connection.SignOutCompleted = true;
        Log.CircuitSignedOut(_logger, connection.Id);
        return false;
    }

    private void Navigate(string? reason, string? source)
    {
        try
        {
            var navigation = _circuitServices.GetRequiredService<NavigationManager>();
            var uri = navigation.ToAbsoluteUri(BuildSignedOutPath(_circuitOptions, reason, source).TrimStart('/')).AbsoluteUri;

            // location.replace: a full page load that app navigation handlers cannot cancel, and no way back to the signed-out page.
            var sent = _circuitServices.GetRequiredService<IJSRuntime>().InvokeVoidAsync("location.replace", uri);
            if (!sent.IsCompleted)
            {
                // The browser's acknowledgement is itself refused inbound activity; only a failure to send matters.
                _ = sent.AsTask().ContinueWith(
                    static (t, state) => ((AutoSignOutCircuitHandler)state!).NavigationFailed(t.Exception!),
                    this,
                    CancellationToken.None,
                    TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default);
            }
        }
        catch (Exception e) when (e is InvalidOperationException or JSException or ObjectDisposedException)
        {
            NavigationFailed(e);
        }
    }

    private void NavigationFailed(Exception exception)
    {
        if (exception is AggregateException { InnerException: { } inner })
        {
            exception = inner;
        }

        // Once the connection is closed the pending call fails as disconnected or cancelled: expected, not worth a warning.
        if (exception is not (JSDisconnectedException or TaskCanceledException or OperationCanceledException))
        {
            Log.CircuitNavigationFailed(_logger, exception, _circuitId);
        }
    }

    /// <summary>Builds the app-relative signed-out path with the reason and the signal's source in its query.</summary>
    internal static string BuildSignedOutPath(AutoSignOutCircuitOptions options, string? reason, string? source = null)
    {
        var path = options.SignedOutPath;
        if (!string.IsNullOrEmpty(reason) && options.ReasonQueryParameter is { } reasonParameter)
        {
            path = Append(path, reasonParameter, reason);
        }

        if (SignOutSignalSources.IsKnown(source) && options.SourceQueryParameter is { } sourceParameter)
        {
            path = Append(path, sourceParameter, source!);
        }

        return path;

        static string Append(string path, string name, string value) =>
            path + (path.Contains('?', StringComparison.Ordinal) ? '&' : '?') + Uri.EscapeDataString(name) + "=" + Uri.EscapeDataString(value);
    }

    private Task OnDispatcherAsync(Action action)
    {
        var dispatcher = _dispatcher;
        if (dispatcher is null || ReferenceEquals(SynchronizationContext.Current, dispatcher))
        {
            action();
            return Task.CompletedTask;
        }

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        dispatcher.Post(
            static state =>
            {
                var (action, done) = ((Action, TaskCompletionSource))state!;
                try
                {
                    action();
                    done.TrySetResult();
                }
                catch (Exception e)
                {
                    done.TrySetException(e);
                }
            },
            (action, done));
        return done.Task;
    }

    [DoesNotReturn]
    private void RefuseActivity(string where)
    {
        _metrics.Refused(where);
        Log.CircuitActivityRefused(_logger, where, _circuitId);
        throw new InvalidOperationException(SignedOutMessage);
    }
}
