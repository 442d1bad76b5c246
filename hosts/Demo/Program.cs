using AutoSignOut.Demo;
using AutoSignOut.Demo.Headless;
using AutoSignOut.IdentityProvider;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// One command: the identity provider and the client app on loopback ports, pointed at each other.
// `--headless` runs every trigger by itself and prints the timeline; exit code 1 when one fails.
var settings = DemoSettings.From(args);
string[] logging = settings.Headless
    ? ["--Logging:LogLevel:Default=Warning", "--Logging:LogLevel:AutoSignOut=Warning", "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning"]
    : ["--Logging:LogLevel:Microsoft.Hosting.Lifetime=Warning", "--Logging:LogLevel:System.Net.Http.HttpClient=Warning"];

using var stopping = new CancellationTokenSource();
var exitCode = 0;
try
{
    await using var hosts = await DemoHosts.StartAsync(settings, logging, stopping.Token);
    var users = DemoUsers.From(hosts.IdentityProvider.Services.GetRequiredService<IdentityProviderSettings>());
    if (settings.Headless)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
        limit.CancelAfter(TimeSpan.FromMinutes(5));
        exitCode = await new HeadlessRun(hosts, settings, users, Console.Out).RunAsync(limit.Token);
    }
    else
    {
        Banner.Print(Console.Out, settings, users);
        await Task.WhenAny(hosts.IdentityProvider.WaitForShutdownAsync(), hosts.ClientApp.WaitForShutdownAsync());
    }
}
catch (Exception e) when (settings.Headless)
{
    Console.Error.WriteLine($"The headless run failed: {e}");
    exitCode = 1;
}
finally
{
    if (settings.Headless && Path.GetFileName(settings.DataPath).StartsWith("autosignout-demo-", StringComparison.Ordinal))
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(settings.DataPath, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

return exitCode;
