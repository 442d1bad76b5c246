using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace AutoSignOut.IdentityServer.Tests.Infrastructure;

/// <summary>An IdP process in miniature: a generic host running the engine and its dispatcher.</summary>
internal sealed class EngineHost : IAsyncDisposable
{
    private EngineHost(IHost host) => Host = host;

    public IHost Host { get; }

    public IServiceProvider Services => Host.Services;

    public IAutoSignOutServer Server => Host.Services.GetRequiredService<IAutoSignOutServer>();

    public ILogoutOutbox Outbox => Host.Services.GetRequiredService<ILogoutOutbox>();

    /// <summary>Builds the host; starts it unless <paramref name="start"/> is false.</summary>
    public static async Task<EngineHost> CreateAsync(
        TimeProvider time,
        Action<AutoSignOutServerOptions>? configure = null,
        Action<IServiceCollection>? services = null,
        bool start = true,
        TestDatabase? database = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(time);
        builder.Services.AddAutoSignOutServer(o =>
        {
            o.Issuer = TestKeys.Issuer;
            o.SigningCredentials = TestKeys.Signing;
            // Tests move fake time in jumps while real requests are in flight; a request must not "time out" because
            // a few jumps passed while a busy machine served it. (Timeouts themselves are Polly's, tested there.)
            o.AttemptTimeout = TimeSpan.FromMinutes(1);
            configure?.Invoke(o);
        });
        if (database is not null)
        {
            builder.Services.AddAutoSignOutEntityFrameworkOutbox(database.Use);
        }

        services?.Invoke(builder.Services);
        var host = builder.Build();
        if (database is not null)
        {
            await host.Services.MigrateAutoSignOutOutboxAsync();
        }

        if (start)
        {
            await host.StartAsync();
        }

        return new EngineHost(host);
    }

    public static FakeTimeProvider NewClock() => new(DateTimeOffset.UtcNow);

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Host.StopAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
        }

        Host.Dispose();
    }
}
