using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using AutoSignOut.AspNetCore;
using AutoSignOut.AspNetCore.Redis;
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

namespace AutoSignOut.RedisBench;

/// <summary>
/// One node of the client app, run as its own process: a hub and an authorized <c>/check</c> endpoint behind
/// AutoSignOut, with the Redis package when a Redis configuration is given (a node of the cluster), without it
/// otherwise (the single node).
/// </summary>
internal static class NodeServer
{
    public const string Issuer = "https://bench-op.example";
    public const string ClientId = "bench-client";

    public static async Task RunAsync(string publicKeyBase64, string? redis, string? prefix)
    {
        var rsa = RSA.Create();
        rsa.ImportRSAPublicKey(Convert.FromBase64String(publicKeyBase64), out _);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel(k => k.Limits.MaxConcurrentConnections = null).UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var autoSignOut = builder.Services.AddAutoSignOut(o => o.Providers.Add(new OpenIdProvider
        {
            Issuer = Issuer,
            ClientIds = { ClientId },
            SigningKeys = { new RsaSecurityKey(rsa) { KeyId = "bench" } },
        }));
        if (!string.IsNullOrEmpty(redis))
        {
            autoSignOut.AddRedis(redis, o => o.KeyPrefix = prefix ?? AutoSignOutRedisDefaults.KeyPrefix);
        }

        builder.Services.AddAuthentication("Bench").AddScheme<AuthenticationSchemeOptions, QueryAuthenticationHandler>("Bench", null);
        builder.Services.AddAuthorization();
        builder.Services.AddSignalR();
        var app = builder.Build();
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapBackChannelLogout();
        app.MapHub<BenchHub>("/hub");
        app.MapGet("/check", () => Results.Ok()).RequireAuthorization();
        app.MapGet("/registry", (LiveConnectionRegistry registry) => Results.Text(registry.Count.ToString(CultureInfo.InvariantCulture)));
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
    private sealed class BenchHub : Hub;
}
