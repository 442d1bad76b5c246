using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.Bench;

/// <summary>
/// The server side of the benchmark, run as its own process (each process may hold 20,000 open files here):
/// a hub behind AutoSignOut, plus control endpoints that abort connections directly — the floor, with no
/// middleware in the close path — and a bare form-POST endpoint.
/// </summary>
internal static class BenchServer
{
    public const string Issuer = "https://bench-op.example";
    public const string ClientId = "bench-client";

    public static async Task RunAsync(string publicKeyBase64)
    {
        var rsa = RSA.Create();
        rsa.ImportRSAPublicKey(Convert.FromBase64String(publicKeyBase64), out _);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxConcurrentConnections = null).UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider
        {
            Issuer = Issuer,
            ClientIds = { ClientId },
            SigningKeys = { new RsaSecurityKey(rsa) { KeyId = "bench" } },
        }));
        builder.Services.AddAuthentication("Bench").AddScheme<AuthenticationSchemeOptions, QueryAuthenticationHandler>("Bench", null);
        builder.Services.AddAuthorization();
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<ContextIndex>();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapBackChannelLogout();
        app.MapHub<BenchHub>("/hub");
        app.MapPost("/bare", async (HttpContext context) =>
        {
            var form = await context.Request.ReadFormAsync();
            context.Response.Headers.CacheControl = "no-store";
            return form.TryGetValue("logout_token", out var token) && token.Count == 1 ? Results.Ok() : Results.BadRequest();
        });
        app.MapPost("/validate-only", async (HttpContext context, LogoutTokenValidator validator) =>
        {
            var form = await context.Request.ReadFormAsync();
            var result = await validator.ValidateAsync(form["logout_token"].ToString(), context.RequestAborted);
            return result.Signal is null ? Results.BadRequest() : Results.Ok();
        });
        app.MapPost("/validate-publish", async (HttpContext context, LogoutTokenValidator validator, ISignOutSignalBus bus) =>
        {
            var form = await context.Request.ReadFormAsync();
            var result = await validator.ValidateAsync(form["logout_token"].ToString(), context.RequestAborted);
            if (result.Signal is null)
            {
                return Results.BadRequest();
            }

            await bus.PublishAsync(result.Signal);
            return Results.Ok();
        });
        app.MapPost("/floor/session", (string sid, ContextIndex index) => { index.Abort(index.BySession, sid); return Results.Ok(); });
        app.MapPost("/floor/user", (string user, ContextIndex index) => { index.Abort(index.ByUser, user); return Results.Ok(); });
        app.MapGet("/cpu", () => Results.Text(System.Diagnostics.Process.GetCurrentProcess().TotalProcessorTime.TotalMicroseconds.ToString("0", System.Globalization.CultureInfo.InvariantCulture)));
        app.MapGet("/registry", (LiveConnectionRegistry registry) => Results.Text(registry.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await app.StartAsync();
        Console.WriteLine("LISTENING " + app.Urls.First());
        await app.WaitForShutdownAsync();
    }

    /// <summary>Trusts <c>?user=…&amp;sid=…</c>: the bench measures the sign-out path, not an authentication handler.</summary>
    private sealed class QueryAuthenticationHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            var user = Request.Query["user"].ToString();
            var sid = Request.Query["sid"].ToString();
            if (user.Length == 0 || sid.Length == 0)
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }

            var identity = new ClaimsIdentity([new Claim("sub", user, null, Issuer), new Claim("sid", sid, null, Issuer)], "Bench");
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), "Bench")));
        }
    }

    [Authorize]
    private sealed class BenchHub(ContextIndex index) : Hub
    {
        public override Task OnConnectedAsync()
        {
            index.Add(Context);
            return Task.CompletedTask;
        }

        public override Task OnDisconnectedAsync(Exception? exception)
        {
            index.Remove(Context);
            return Task.CompletedTask;
        }
    }

    private sealed class ContextIndex
    {
        public ConcurrentDictionary<string, ConcurrentDictionary<string, HubCallerContext>> BySession { get; } = new();

        public ConcurrentDictionary<string, ConcurrentDictionary<string, HubCallerContext>> ByUser { get; } = new();

        public void Add(HubCallerContext context)
        {
            BySession.GetOrAdd(context.User!.FindFirst("sid")!.Value, _ => new())[context.ConnectionId] = context;
            ByUser.GetOrAdd(context.User!.FindFirst("sub")!.Value, _ => new())[context.ConnectionId] = context;
        }

        public void Remove(HubCallerContext context)
        {
            if (BySession.TryGetValue(context.User!.FindFirst("sid")!.Value, out var s))
            {
                s.TryRemove(context.ConnectionId, out _);
            }

            if (ByUser.TryGetValue(context.User!.FindFirst("sub")!.Value, out var u))
            {
                u.TryRemove(context.ConnectionId, out _);
            }
        }

        public void Abort(ConcurrentDictionary<string, ConcurrentDictionary<string, HubCallerContext>> index, string key)
        {
            if (index.TryGetValue(key, out var contexts))
            {
                foreach (var context in contexts.Values)
                {
                    context.Abort();
                }
            }
        }
    }
}
