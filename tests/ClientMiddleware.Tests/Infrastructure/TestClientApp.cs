using System.Collections.Concurrent;
using System.Net;
using System.Security.Claims;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AutoSignOut.AspNetCore.Tests.Infrastructure;

/// <summary>
/// A relying party on loopback Kestrel: cookie sign-in, JWT bearer from the test OP, an [Authorize] SignalR hub,
/// and AutoSignOut with its back-channel endpoint.
/// </summary>
internal sealed class TestClientApp : IAsyncDisposable
{
    public const string ClientId = "client-a";
    public const string ApiAudience = "api";

    private readonly WebApplication _app;

    private TestClientApp(WebApplication app, string baseAddress, LogSink logs)
    {
        _app = app;
        BaseAddress = baseAddress;
        Logs = logs;
    }

    public string BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    public LogSink Logs { get; }

    public LiveConnectionRegistry Registry => Services.GetRequiredService<LiveConnectionRegistry>();

    public static async Task<TestClientApp> StartAsync(TestOpenIdProvider? op, Action<AutoSignOutOptions>? configure = null, Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        var logs = new LogSink();
        builder.Logging.ClearProviders().AddProvider(logs).SetMinimumLevel(LogLevel.Trace);

        builder.Services.AddAutoSignOut(o =>
        {
            if (op is not null)
            {
                o.Providers.Add(new OpenIdProvider { Authority = op.Issuer, ClientIds = { ClientId }, RequireHttpsMetadata = false });
            }

            configure?.Invoke(o);
        });
        var authentication = builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme);
        authentication.AddCookie(o =>
        {
            // A claims refresh that re-issues the cookie from OnValidatePrincipal with fresh properties, as apps do.
            o.Events.OnValidatePrincipal = context => context.HttpContext.Request.Headers.ContainsKey("X-Reissue-Cookie")
                ? context.HttpContext.SignInAsync(context.Scheme.Name, context.Principal!, new AuthenticationProperties())
                : Task.CompletedTask;

            // Forces a sliding renewal, as a cookie past half its lifetime gets.
            o.Events.OnCheckSlidingExpiration = context =>
            {
                if (context.HttpContext.Request.Headers.ContainsKey("X-Renew-Cookie"))
                {
                    context.ShouldRenew = true;
                }

                return Task.CompletedTask;
            };
        });
        if (op is not null)
        {
            authentication.AddOpenIdConnect("oidc", o =>
            {
                o.Authority = op.Issuer;
                o.ClientId = ClientId;
                o.ClientSecret = "secret";
                o.RequireHttpsMetadata = false;
                o.ResponseType = "code";
                o.ResponseMode = "query";
                o.UsePkce = true;
                o.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                o.CorrelationCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.NonceCookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                o.Events.OnRedirectToIdentityProvider = context =>
                {
                    context.ProtocolMessage.LoginHint = context.Properties.Items["user"];
                    return Task.CompletedTask;
                };
            });
        }

        authentication
            .AddJwtBearer(o =>
            {
                o.Authority = op?.Issuer ?? "http://127.0.0.1:9";
                o.RequireHttpsMetadata = false;
                o.Audience = ApiAudience;
                o.TokenValidationParameters.ValidTypes = ["at+jwt"];
                o.Events = new JwtBearerEvents
                {
                    OnMessageReceived = context =>
                    {
                        if (context.Request.Path.StartsWithSegments("/hub") && context.Request.Query["access_token"] is { Count: 1 } token)
                        {
                            context.Token = token;
                        }

                        return Task.CompletedTask;
                    },
                };
            });
        builder.Services.AddAuthorization(o => o.AddPolicy("hub", p => p
            .AddAuthenticationSchemes(CookieAuthenticationDefaults.AuthenticationScheme, JwtBearerDefaults.AuthenticationScheme)
            .RequireAuthenticatedUser()));
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<InvocationLog>();
        services?.Invoke(builder.Services);

        var app = builder.Build();
        var hooks = new TestHooks();
        app.Use(async (context, next) =>
        {
            // Aborts the request when the test says so, as a client that goes away (HTTP/2 RST_STREAM) mid-request.
            if (context.Request.Headers.ContainsKey("X-Test-Abort") && hooks.AbortWhen is { } abortWhen)
            {
                _ = abortWhen.Task.ContinueWith(_ => context.Abort(), TaskScheduler.Default);
            }

            await next(context);
        });
        app.UseAuthentication();

        // An app's own authentication that sets the user without IAuthenticationService: no issue time is known.
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/open-hub") && context.Request.Headers["X-Test-Principal"] is { Count: 1 } value
                && value[0]!.Split('|') is [var sub, var sid])
            {
                var issuer = op?.Issuer ?? ClaimsIdentity.DefaultIssuer;
                context.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", sub, ClaimValueTypes.String, issuer), new Claim("sid", sid, ClaimValueTypes.String, issuer)], "header"));
            }

            await next(context);
        });
        app.UseAuthorization();
        // Signs in with a cookie. By default the claims carry the OP as issuer, as the OpenID Connect handler's
        // cookie does; local=true makes a local sign-in (issuer LOCAL AUTHORITY) like an app's own login form.
        app.MapGet("/signin", async (HttpContext context, string sub, string? sid, bool? local, bool? raw) =>
        {
            var issuer = local == true || op is null ? ClaimsIdentity.DefaultIssuer : op.Issuer;
            var claims = new List<Claim> { new("sub", sub, ClaimValueTypes.String, issuer), new(ClaimTypes.Name, sub, ClaimValueTypes.String, issuer) };
            if (sid is not null)
            {
                claims.Add(new Claim("sid", sid, ClaimValueTypes.String, issuer));
            }

            var principal = new ClaimsPrincipal(new ClaimsIdentity(claims, CookieAuthenticationDefaults.AuthenticationScheme));
            if (raw == true)
            {
                // Straight to the cookie handler, as a cookie issued before AutoSignOut was installed: no precise issue time.
                var handler = await context.RequestServices.GetRequiredService<IAuthenticationHandlerProvider>().GetHandlerAsync(context, CookieAuthenticationDefaults.AuthenticationScheme);
                await ((IAuthenticationSignInHandler)handler!).SignInAsync(principal, new AuthenticationProperties());
                return Results.Text(sid);
            }

            await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
            return Results.Text(principal.FindSessionId()?.Value);
        });
        app.MapGet("/login-oidc", (string user) =>
        {
            var properties = new AuthenticationProperties { RedirectUri = "/me" };
            properties.Items["user"] = user;
            return Results.Challenge(properties, ["oidc"]);
        });
        app.MapGet("/me", (ClaimsPrincipal user) => Results.Text(user.FindSubject()?.Value)).RequireAuthorization();
        app.MapBackChannelLogout();
        // No transport send timeout to speak of: a client that stops reading is AutoSignOut's to deal with.
        app.MapHub<TestHub>("/hub", o => o.TransportSendTimeout = TimeSpan.FromMinutes(10));
        app.MapHub<OpenTestHub>("/open-hub");
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestClientApp(app, address.TrimEnd('/'), logs) { Hooks = hooks };
    }

    public TestHooks Hooks { get; private init; } = new();

    /// <summary>Connects to a hub that trusts an X-Test-Principal header set by the app's own middleware.</summary>
    public async Task<HubClient> ConnectWithHeaderPrincipalAsync(string sub, string sid)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(BaseAddress + "/open-hub", HttpTransportType.WebSockets, o => o.Headers["X-Test-Principal"] = sub + "|" + sid)
            .Build();
        var client = new HubClient(connection);
        await connection.StartAsync();
        await client.WaitUntilServedAsync();
        return client;
    }

    /// <summary>
    /// Opens a hub connection over a raw WebSocket with the browser's cookies, makes the server flood it, and never reads
    /// again: the server's sends to it stall.
    /// </summary>
    public async Task<System.Net.WebSockets.ClientWebSocket> ConnectStalledClientAsync(Browser browser)
    {
        var socket = new System.Net.WebSockets.ClientWebSocket();
        socket.Options.Cookies = browser.Cookies;
        socket.Options.SetBuffer(1024, 1024);
        await socket.ConnectAsync(new Uri(BaseAddress.Replace("http://", "ws://", StringComparison.Ordinal) + "/hub"), CancellationToken.None);
        await socket.SendAsync("{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64];
        await socket.ReceiveAsync(buffer, CancellationToken.None);
        await socket.SendAsync("{\"type\":1,\"target\":\"Flood\",\"arguments\":[1000]}\u001e"u8.ToArray(), System.Net.WebSockets.WebSocketMessageType.Text, true, CancellationToken.None);
        return socket;
    }

    /// <summary>Posts a logout token on a request the server aborts once <paramref name="abortWhen"/> completes.</summary>
    public async Task<HttpResponseMessage> PostLogoutAbortedAsync(string token, TaskCompletionSource abortWhen)
    {
        Hooks.AbortWhen = abortWhen;
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath)
        {
            Content = new FormUrlEncodedContent([new("logout_token", token)]),
        };
        request.Headers.Add("X-Test-Abort", "1");
        return await client.SendAsync(request);
    }

    /// <summary>A browser-like client: an HttpClient with its own cookie jar.</summary>
    public Browser CreateBrowser() => new(this);

    public async Task<HttpResponseMessage> PostLogoutAsync(string token, CancellationToken cancellationToken = default)
    {
        using var client = new HttpClient();
        return await client.PostAsync(BaseAddress + AutoSignOutDefaults.BackChannelLogoutPath, new FormUrlEncodedContent([new("logout_token", token)]), cancellationToken);
    }

    public async Task<HubClient> ConnectWithTokenAsync(string accessToken, HttpTransportType transport = HttpTransportType.WebSockets)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(BaseAddress + "/hub", transport, o => o.AccessTokenProvider = () => Task.FromResult<string?>(accessToken))
            .Build();
        var client = new HubClient(connection);
        await connection.StartAsync();
        await client.WaitUntilServedAsync();
        return client;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    internal sealed class Browser(TestClientApp app) : IDisposable
    {
        private readonly HttpClient _http = new(new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true }) { BaseAddress = new Uri(app.BaseAddress) };

        public CookieContainer Cookies { get; private set; } = new();

        public HttpClient Http => _http;

        /// <summary>Signs in locally and returns the session id of the new cookie.</summary>
        public async Task<string> SignInAsync(string sub, string? sid = null, bool local = false, bool raw = false)
        {
            var handler = new HttpClientHandler { CookieContainer = new CookieContainer(), UseCookies = true };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(app.BaseAddress) };
            var response = await http.GetAsync($"/signin?sub={Uri.EscapeDataString(sub)}" + (sid is null ? string.Empty : $"&sid={Uri.EscapeDataString(sid)}")
                + (local ? "&local=true" : string.Empty) + (raw ? "&raw=true" : string.Empty));
            response.EnsureSuccessStatusCode();
            Cookies = handler.CookieContainer;
            return await response.Content.ReadAsStringAsync();
        }

        /// <summary>Puts cookies back, as a client that ignores Set-Cookie would keep sending them.</summary>
        public void RestoreCookies(string cookieHeader)
        {
            foreach (var cookie in cookieHeader.Split("; ", StringSplitOptions.RemoveEmptyEntries))
            {
                Cookies.SetCookies(new Uri(app.BaseAddress), cookie);
            }
        }

        /// <summary>Signs in through the OpenID Connect handler and the test OP (authorization code + PKCE).</summary>
        public async Task SignInWithOpenIdConnectAsync(string user)
        {
            var handler = new HttpClientHandler { CookieContainer = Cookies, UseCookies = true, AllowAutoRedirect = true };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(app.BaseAddress) };
            var response = await http.GetAsync($"/login-oidc?user={Uri.EscapeDataString(user)}");
            Assert.AreEqual(HttpStatusCode.OK, response.StatusCode, await response.Content.ReadAsStringAsync());
            Assert.AreEqual(user, await response.Content.ReadAsStringAsync());
        }

        /// <summary>GET /me with the browser's cookies; <paramref name="header"/>, when given, is sent with an empty value.</summary>
        public async Task<HttpResponseMessage> GetMeAsync(string? header = null)
        {
            var handler = new HttpClientHandler { CookieContainer = Cookies, UseCookies = true, AllowAutoRedirect = false };
            using var http = new HttpClient(handler) { BaseAddress = new Uri(app.BaseAddress) };
            using var request = new HttpRequestMessage(HttpMethod.Get, "/me");
            if (header is not null)
            {
                request.Headers.Add(header, "1");
            }

            return await http.SendAsync(request);
        }

        public async Task<HubClient> ConnectAsync(HttpTransportType transport = HttpTransportType.WebSockets)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(app.BaseAddress + "/hub", transport, o => o.Cookies = Cookies)
                .Build();
            var client = new HubClient(connection);
            await connection.StartAsync();
            await client.WaitUntilServedAsync();
            return client;
        }

        public void Dispose() => _http.Dispose();
    }
}

[Authorize("hub")]
public sealed class TestHub(InvocationLog log) : Hub
{
    public string Echo(string value)
    {
        log.Record(value);
        return value;
    }

    /// <summary>Sends the caller <paramref name="count"/> messages of 64 KiB, to fill the pipe of a client that does not read.</summary>
    public async Task Flood(int count)
    {
        var chunk = new string('x', 64 * 1024);
        for (var i = 0; i < count; i++)
        {
            await Clients.Caller.SendAsync("data", chunk);
        }
    }
}

/// <summary>A hub without [Authorize], for principals the app sets itself.</summary>
public sealed class OpenTestHub : Hub
{
    public string Echo(string value) => value;
}

/// <summary>Switches a test flips on the running app.</summary>
internal sealed class TestHooks
{
    public TaskCompletionSource? AbortWhen { get; set; }
}

/// <summary>What the hub actually executed, to assert on the server side.</summary>
public sealed class InvocationLog
{
    private readonly ConcurrentQueue<string> _values = new();

    public IReadOnlyCollection<string> Values => _values;

    public void Record(string value) => _values.Enqueue(value);
}

/// <summary>A SignalR client connection that records the sign-out message and its close.</summary>
internal sealed class HubClient : IAsyncDisposable
{
    private readonly TaskCompletionSource<string?> _signedOut = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource<Exception?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public HubClient(HubConnection connection)
    {
        Connection = connection;
        connection.On<string?>(AutoSignOutDefaults.ClientMethod, reason => _signedOut.TrySetResult(reason));
        connection.Closed += e =>
        {
            _closed.TrySetResult(e);
            return Task.CompletedTask;
        };
    }

    public HubConnection Connection { get; }

    /// <summary>The reason of the sign-out message; fails after 5 s rather than waiting forever for one that never comes.</summary>
    public Task<string?> SignedOut => _signedOut.Task.WaitAsync(TimeSpan.FromSeconds(5));

    public bool ReceivedSignedOut => _signedOut.Task.IsCompleted;

    public Task<Exception?> Closed => _closed.Task;

    public bool IsOpen => Connection.State == HubConnectionState.Connected && !_closed.Task.IsCompleted;

    /// <summary>
    /// Waits until the server has run OnConnectedAsync (and so registered the connection): SignalR answers the handshake
    /// before it, and handles invocations only after it.
    /// </summary>
    public async Task WaitUntilServedAsync() => await Connection.InvokeAsync<string>("Echo", "connected");

    /// <summary>Proves the connection still works end to end.</summary>
    public async Task AssertAliveAsync()
    {
        Assert.IsTrue(IsOpen, "the connection should still be open");
        Assert.AreEqual("ping", await Connection.InvokeAsync<string>("Echo", "ping"));
    }

    public async Task AssertClosedAsync(TimeSpan? within = null)
    {
        var closed = await Task.WhenAny(_closed.Task, Task.Delay(within ?? TimeSpan.FromSeconds(5)));
        Assert.AreSame(_closed.Task, closed, "the connection should have been closed by the server");
    }

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}

/// <summary>Captures every log entry, to check what is logged at which level.</summary>
internal sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, EventId EventId, string Message)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(LogSink sink, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Entries.Enqueue((logLevel, category, eventId, formatter(state, exception) + (exception is null ? string.Empty : " " + exception)));
    }
}
