using System.Collections.Concurrent;
using System.Diagnostics;
using AutoSignOut.AspNetCore;
using AutoSignOut.ClientApp;
using AutoSignOut.IdentityProvider;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace AutoSignOut.Demo;

/// <summary>The identity provider and the client app, started in this process on loopback ports.</summary>
internal sealed class DemoHosts : IAsyncDisposable
{
    private readonly DemoSettings _settings;
    private readonly string[] _logging;

    private DemoHosts(DemoSettings settings, string[] logging)
    {
        _settings = settings;
        _logging = logging;
    }

    public WebApplication IdentityProvider { get; private set; } = default!;

    public WebApplication ClientApp { get; private set; } = default!;

    /// <summary>Every sign-out signal the client app processed, with the time it arrived (for the headless timeline).</summary>
    public ConcurrentQueue<(long At, SignOutSignal Signal)> Signals { get; } = new();

    public static async Task<DemoHosts> StartAsync(DemoSettings settings, string[] logging, CancellationToken cancellationToken)
    {
        var hosts = new DemoHosts(settings, logging);
        await hosts.StartIdentityProviderAsync([], cancellationToken);
        hosts.ClientApp = ClientAppHost.Create([.. hosts.ClientAppArgs()], hosts.ObserveSignals);
        await hosts.ClientApp.StartAsync(cancellationToken);
        return hosts;
    }

    /// <summary>Stops the identity provider and starts it again with more settings (the client app keeps running).</summary>
    public async Task RestartIdentityProviderAsync(string[] extra, CancellationToken cancellationToken)
    {
        await IdentityProvider.StopAsync(cancellationToken);
        await IdentityProvider.DisposeAsync();
        await StartIdentityProviderAsync(extra, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in new[] { ClientApp, IdentityProvider })
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }
    }

    private async Task StartIdentityProviderAsync(string[] extra, CancellationToken cancellationToken)
    {
        IdentityProvider = IdentityProviderHost.Create([.. IdentityProviderArgs(), .. extra]);
        await IdentityProvider.SeedAsync(cancellationToken);
        await IdentityProvider.StartAsync(cancellationToken);
    }

    // Development serves each app's static files (its stylesheet) from the repository, as `dotnet run` does for one app;
    // ASPNETCORE_ENVIRONMENT or --environment on the command line win.
    private static string[] Environment =>
        string.IsNullOrEmpty(System.Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")) ? ["--environment=Development"] : [];

    private IEnumerable<string> IdentityProviderArgs()
    {
        var idp = _settings.IdentityProviderUrl.AbsoluteUri.TrimEnd('/');
        var client = _settings.ClientAppUrl.AbsoluteUri.TrimEnd('/');
        return
        [
            .. Environment,
            $"--urls={idp}",
            $"--IdentityProvider:Issuer={idp}/",
            $"--IdentityProvider:ClientApp:BaseUrl={client}",
            $"--ConnectionStrings:IdentityProvider=Data Source={Path.Combine(_settings.DataPath, "identity-provider.db")}",
            $"--IdentityProvider:KeysPath={Path.Combine(_settings.DataPath, "keys")}",
            .. _logging,
            .. _settings.PassThrough,
        ];
    }

    private IEnumerable<string> ClientAppArgs()
    {
        var idp = _settings.IdentityProviderUrl.AbsoluteUri.TrimEnd('/');
        var client = _settings.ClientAppUrl.AbsoluteUri.TrimEnd('/');
        return
        [
            .. Environment,
            $"--urls={client}",
            $"--Oidc:Authority={idp}/",
            $"--Oidc:Issuer={idp}/",
            "--Oidc:ClientId=client-app",
            "--Oidc:RequireHttpsMetadata=false",
            "--Oidc:Scopes=openid profile email roles offline_access",
            "--ClientApp:LocalSignIn=false",
            .. _logging,
            .. _settings.PassThrough,
        ];
    }

    private void ObserveSignals(WebApplicationBuilder builder) =>
        builder.Services.PostConfigure<AutoSignOutOptions>(o =>
        {
            var next = o.Events.OnSignal;
            o.Events.OnSignal = context =>
            {
                Signals.Enqueue((Stopwatch.GetTimestamp(), context.Signal));
                return next(context);
            };
        });
}
