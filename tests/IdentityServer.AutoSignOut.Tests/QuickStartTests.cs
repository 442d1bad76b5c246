using System.Net;
using AutoSignOut.IdentityServer.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer.Tests;

/// <summary>The README quick starts, line for line, so that they keep compiling and running.</summary>
[TestClass]
public sealed class QuickStartTests
{
    [TestMethod]
    public async Task Engine_quick_start_runs_and_signs_a_user_out_everywhere()
    {
        await using var receiver = await LoopbackReceiver.StartAsync();
        var signingKey = TestKeys.PrivateKey;
        var args = Array.Empty<string>();

        var builder = WebApplication.CreateBuilder(args);
        builder.Services.AddAutoSignOutServer(o =>
        {
            o.Issuer = "https://idp.example";
            o.SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256);
            o.Clients.Add(new LogoutRecipient("client1", new Uri("https://app.example/signout-backchannel")));
        });
        builder.Services.AddHealthChecks().AddAutoSignOutOutbox();
        var app = builder.Build();
        app.MapPost("/password-changed/{sub}", (string sub, IAutoSignOutServer server) => server.SignOutEverywhereAsync(sub));

        // Instead of app.Run(): loopback, and the recipient pointed at the test receiver.
        app.Urls.Add("http://127.0.0.1:0");
        app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptionsMonitor<AutoSignOutServerOptions>>().CurrentValue.Clients[0] = new LogoutRecipient("client1", receiver.Endpoint);
        await app.StartAsync();
        using var http = new HttpClient();
        var response = await http.PostAsync(new Uri(new Uri(app.Urls.First()), "/password-changed/alice"), null);
        Assert.AreEqual(HttpStatusCode.OK, response.StatusCode);
        await Eventually.UntilAsync(() => receiver.Accepted.Count == 1, "the token arrived");
        Assert.AreEqual("alice", receiver.Accepted.Single().Subject);
        await app.StopAsync();
        await app.DisposeAsync();
    }

    [TestMethod]
    public async Task Outbox_quick_start_migrates_and_starts()
    {
        var signingKey = TestKeys.PrivateKey;
        var args = Array.Empty<string>();
        var database = Path.Combine(Environment.CurrentDirectory, "autosignout-outbox.db");
        try
        {
            var builder = WebApplication.CreateBuilder(args);
            builder.Services.AddAutoSignOutServer(o =>
            {
                o.Issuer = "https://idp.example";
                o.SigningCredentials = new SigningCredentials(signingKey, SecurityAlgorithms.RsaSha256);
                o.Clients.Add(new LogoutRecipient("client1", new Uri("https://app.example/signout-backchannel")));
            });
            builder.Services.AddAutoSignOutEntityFrameworkOutbox(); // SQLite file autosignout-outbox.db
            var app = builder.Build();
            await app.Services.MigrateAutoSignOutOutboxAsync();

            // Instead of app.Run():
            app.Urls.Add("http://127.0.0.1:0");
            await app.StartAsync();
            Assert.IsTrue(File.Exists(database));
            await app.StopAsync();
            await app.DisposeAsync();
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }
}
