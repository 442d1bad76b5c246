using System.Net;
using System.Security.Claims;
using System.Text.Encodings.Web;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>
/// A client application on loopback Kestrel with the real AutoSignOut client middleware: the back-channel endpoint
/// and a SignalR hub whose connections the middleware closes. Users authenticate with test headers (the IdP sign-in
/// itself is not what these tests are about); their claims carry the IdP as issuer, as an OIDC handler's would.
/// </summary>
internal sealed class ClientApp : IAsyncDisposable
{
    public const string SubjectHeader = "X-Test-Sub";
    public const string SessionHeader = "X-Test-Sid";
    public const string TokenIdHeader = "X-Test-Jti";

    private readonly WebApplication _app;

    private ClientApp(WebApplication app, string clientId)
    {
        _app = app;
        ClientId = clientId;
        BaseAddress = new Uri(app.Urls.First());
    }

    public string ClientId { get; }

    public Uri BaseAddress { get; }

    public Uri BackChannelLogoutUri => new(BaseAddress, "/signout-backchannel");

    public int Answered200 => _answered200;

    private int _answered200;

    /// <summary>
    /// Starts the app (on <paramref name="port"/>, or any free port). <paramref name="fault"/> may answer a request itself (return a status) before it reaches the
    /// middleware; it gets the request's ordinal, from 1.
    /// </summary>
    public static async Task<ClientApp> StartAsync(string clientId, TimeProvider time, Func<int, int?>? fault = null, int port = 0)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        builder.Services.AddSingleton(time);
        builder.Services.AddAuthentication("Test").AddScheme<AuthenticationSchemeOptions, HeaderAuthenticationHandler>("Test", null);
        builder.Services.AddAuthorization();
        builder.Services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider
        {
            Issuer = TestKeys.Issuer,
            ClientIds = { clientId },
            SigningKeys = { TestKeys.PublicKey },
        }));
        builder.Services.AddSignalR();
        var app = builder.Build();
        ClientApp? self = null;
        var requests = 0;
        app.Use(async (context, next) =>
        {
            if (context.Request.Path == "/signout-backchannel")
            {
                var ordinal = Interlocked.Increment(ref requests);
                if (fault?.Invoke(ordinal) is { } status)
                {
                    context.Response.StatusCode = status;
                    return;
                }

                await next(context);
                if (context.Response.StatusCode == 200)
                {
                    Interlocked.Increment(ref self!._answered200);
                }

                return;
            }

            await next(context);
        });
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapBackChannelLogout("/signout-backchannel");
        app.MapHub<TestHub>("/hub").RequireAuthorization();
        await app.StartAsync();
        self = new ClientApp(app, clientId);
        return self;
    }

    /// <summary>Opens a live SignalR connection as the given user and session.</summary>
    public async Task<HubConnection> ConnectAsync(string subject, string sessionId, string? accessTokenId = null)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(BaseAddress, "/hub"), o =>
            {
                o.Headers[SubjectHeader] = subject;
                o.Headers[SessionHeader] = sessionId;
                if (accessTokenId is not null)
                {
                    // As if authenticated by a bearer access token with this jti.
                    o.Headers[TokenIdHeader] = accessTokenId;
                }
            })
            .Build();
        await connection.StartAsync();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    public sealed class TestHub : Hub
    {
        public string Echo(string value) => value;
    }

    private sealed class HeaderAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var sub = Request.Headers[SubjectHeader].ToString();
            var sid = Request.Headers[SessionHeader].ToString();
            if (sub.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity(
                [new Claim("sub", sub, ClaimValueTypes.String, TestKeys.Issuer), new Claim("sid", sid, ClaimValueTypes.String, TestKeys.Issuer)],
                Scheme.Name,
                "sub",
                "role");
            var jti = Request.Headers[TokenIdHeader].ToString();
            if (jti.Length > 0)
            {
                identity.AddClaim(new Claim("jti", jti, ClaimValueTypes.String, TestKeys.Issuer));
            }

            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Scheme.Name)));
        }
    }
}
