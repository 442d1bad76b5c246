using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;

namespace AutoSignOut.Demo;

/// <summary>The demo's own settings (<c>Demo:*</c>, from the command line or <c>DEMO__*</c> environment variables).</summary>
internal sealed class DemoSettings
{
    public required Uri IdentityProviderUrl { get; init; }

    public required Uri ClientAppUrl { get; init; }

    public required string DataPath { get; init; }

    public bool Headless { get; init; }

    public TimeSpan TriggerTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Settings for the other command-line arguments and configuration, passed on to both hosts.</summary>
    public required string[] PassThrough { get; init; }

    public static DemoSettings From(string[] args)
    {
        var headless = args.Contains("--headless", StringComparer.OrdinalIgnoreCase);
        var rest = args.Where(a => !a.Equals("--headless", StringComparison.OrdinalIgnoreCase)).ToArray();
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().AddCommandLine(rest).Build();
        var demo = configuration.GetSection("Demo");
        var passThrough = rest.Where(a => !a.StartsWith("--Demo:", StringComparison.OrdinalIgnoreCase)).ToArray();

        // Headless runs are self-contained: free loopback ports and a fresh database that is deleted afterwards,
        // so they run beside an interactive demo and always start from the seeded passwords.
        return new DemoSettings
        {
            Headless = headless,
            IdentityProviderUrl = Url(demo["IdentityProviderUrl"], headless ? FreeLoopbackUrl() : "http://127.0.0.1:5001"),
            ClientAppUrl = Url(demo["ClientAppUrl"], headless ? FreeLoopbackUrl() : "http://127.0.0.1:5080"),
            DataPath = Path.GetFullPath(demo["DataPath"] is { Length: > 0 } path ? path
                : headless ? Path.Combine(Path.GetTempPath(), "autosignout-demo-" + Guid.NewGuid().ToString("N")[..8])
                : Path.Combine("data", "demo")),
            TriggerTimeout = demo.GetValue("TriggerTimeout", TimeSpan.FromSeconds(10)),
            IdleTimeout = demo.GetValue("IdleTimeout", TimeSpan.FromSeconds(3)),
            PassThrough = passThrough,
        };
    }

    private static Uri Url(string? configured, string fallback) =>
        new((string.IsNullOrWhiteSpace(configured) ? fallback : configured.Trim()).TrimEnd('/'), UriKind.Absolute);

    private static string FreeLoopbackUrl()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
    }
}
