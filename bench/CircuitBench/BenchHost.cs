using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Claims;
using System.Text.Encodings.Web;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;
using Microsoft.AspNetCore.Components.Server.Circuits;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.JSInterop;

namespace AutoSignOut.CircuitBench;

/// <summary>
/// The bench's server on loopback Kestrel. <c>/plain</c> is an ordinary hub: AutoSignOut's hub filter registers each
/// authenticated connection. <c>/circuit</c> stands in for Blazor's hub: each connection gets a circuit of its own —
/// its DI scope with Blazor's <see cref="ServerAuthenticationStateProvider"/>, a Blazor <see cref="Dispatcher"/>, and
/// AutoSignOut's circuit handler opened on that dispatcher — whose JS runtime sends over that same connection, as
/// Blazor's does. Only Blazor's render protocol is missing, which a console client cannot speak.
/// </summary>
internal sealed class BenchHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BenchHost(WebApplication app, string address)
    {
        _app = app;
        Address = address;
    }

    public string Address { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>When each circuit's authentication state became anonymous, by session id (Stopwatch ticks).</summary>
    public static ConcurrentDictionary<string, long> AnonymousAt { get; } = new();

    public static async Task<BenchHost> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<CountingRevokedSessionStore>();
        builder.Services.AddSingleton<IRevokedSessionStore>(sp => sp.GetRequiredService<CountingRevokedSessionStore>());
        builder.Services.AddAutoSignOut().AddBlazorCircuits(o => o.SignedOutPath = "/signed-out");
        builder.Services.AddAuthentication(QueryAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, QueryAuthenticationHandler>(QueryAuthenticationHandler.SchemeName, null);
        builder.Services.AddSignalR();
        builder.Services.AddScoped<AuthenticationStateProvider, ServerAuthenticationStateProvider>();
        builder.Services.AddScoped<NavigationManager, BenchNavigationManager>();
        builder.Services.AddScoped<BenchJsRuntime>();
        builder.Services.AddScoped<IJSRuntime>(sp => sp.GetRequiredService<BenchJsRuntime>());

        var app = builder.Build();
        app.UseAuthentication();
        app.MapHub<PlainHub>("/plain");
        app.MapHub<CircuitHub>("/circuit");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return new BenchHost(app, address);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>An ordinary hub; AutoSignOut registers its connections, sends <c>signedOut</c> and aborts them.</summary>
internal sealed class PlainHub : Hub;

/// <summary>Blazor's hub, as far as a circuit's sign-out is concerned (see <see cref="BenchHost"/>).</summary>
internal sealed class CircuitHub(IServiceProvider services, IHubContext<CircuitHub> hub) : Hub
{
    private static readonly object ScopeKey = new();

    public override async Task OnConnectedAsync()
    {
        // The connection itself is anonymous, so the hub filter leaves it alone: the circuit carries the user.
        var query = Context.GetHttpContext()!.Request.Query;
        var user = QueryAuthenticationHandler.Principal(query["cuser"]!, query["csid"]!);
        var scope = services.CreateAsyncScope();
        Context.Items[ScopeKey] = scope;
        var circuitServices = scope.ServiceProvider;
        circuitServices.GetRequiredService<BenchJsRuntime>().Attach(hub.Clients, Context.ConnectionId);
        var authentication = circuitServices.GetRequiredService<AuthenticationStateProvider>();
        ((IHostEnvironmentAuthenticationStateProvider)authentication).SetAuthenticationState(Task.FromResult(new AuthenticationState(user)));
        var sid = (string)query["csid"]!;
        authentication.AuthenticationStateChanged += _ => BenchHost.AnonymousAt.TryAdd(sid, Stopwatch.GetTimestamp());
        var handler = circuitServices.GetServices<CircuitHandler>().OfType<AutoSignOutCircuitHandler>().Single();
        var dispatcher = Dispatcher.CreateDefault();
        var connection = new CircuitHubConnection(Context, hub.Clients, issuedAt: DateTimeOffset.UtcNow);
        await dispatcher.InvokeAsync(() => handler.Open("circuit-" + Context.ConnectionId, connection, user));
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        if (Context.Items[ScopeKey] is AsyncServiceScope scope)
        {
            var handler = scope.ServiceProvider.GetServices<CircuitHandler>().OfType<AutoSignOutCircuitHandler>().Single();
            if (handler.Connection is { } connection)
            {
                scope.ServiceProvider.GetRequiredService<LiveConnectionRegistry>().Unregister(connection);
            }

            await scope.DisposeAsync();
        }
    }
}

/// <summary>Sends what a circuit's JS runtime would send over the circuit's connection, as a <c>navigate</c> message.</summary>
internal sealed class BenchJsRuntime : IJSRuntime
{
    private IHubClients? _clients;
    private string? _connectionId;

    public void Attach(IHubClients clients, string connectionId)
    {
        _clients = clients;
        _connectionId = connectionId;
    }

    public ValueTask<TValue> InvokeAsync<TValue>(string identifier, object?[]? args)
    {
        // Blazor's RemoteJSRuntime writes JS.BeginInvokeJS to the connection and does not wait for the browser here either.
        _ = _clients!.Client(_connectionId!).SendAsync("navigate", identifier, args?[0]);
        return ValueTask.FromResult(default(TValue)!);
    }

    public ValueTask<TValue> InvokeAsync<TValue>(string identifier, CancellationToken cancellationToken, object?[]? args) =>
        InvokeAsync<TValue>(identifier, args);
}

internal sealed class BenchNavigationManager : NavigationManager
{
    public BenchNavigationManager() => Initialize("http://127.0.0.1/", "http://127.0.0.1/live");
}

/// <summary>Bench-only authentication: the user and session come in the query string. Never for a real app.</summary>
internal sealed class QueryAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "bench";

    public static ClaimsPrincipal Principal(string user, string sid) =>
        new(new ClaimsIdentity([new Claim("sub", user), new Claim("sid", sid)], SchemeName));

    protected override Task<AuthenticateResult> HandleAuthenticateAsync() =>
        Task.FromResult(Request.Query.TryGetValue("user", out var user) && Request.Query.TryGetValue("sid", out var sid)
            ? AuthenticateResult.Success(new AuthenticationTicket(Principal(user!, sid!), new AuthenticationProperties { IssuedUtc = DateTimeOffset.UtcNow.AddSeconds(-1) }, SchemeName))
            : AuthenticateResult.NoResult());
}

/// <summary>AutoSignOut's in-memory revoked-session store, counting its lookups (the "session-store queries").</summary>
internal sealed class CountingRevokedSessionStore(IOptions<AutoSignOutOptions> options, TimeProvider time) : IRevokedSessionStore
{
    private readonly InMemoryRevokedSessionStore _inner = new(options, time);
    private long _lookups;

    public long Lookups => Interlocked.Read(ref _lookups);

    public ValueTask RevokeAsync(string? issuer, IReadOnlyList<ConnectionKey> keys, RevocationTime revokedAt, CancellationToken cancellationToken = default) =>
        _inner.RevokeAsync(issuer, keys, revokedAt, cancellationToken);

    public bool IsRevoked(string? issuer, IReadOnlyList<ConnectionKey> keys, IssueTime issuedAt)
    {
        Interlocked.Increment(ref _lookups);
        return _inner.IsRevoked(issuer, keys, issuedAt);
    }
}
