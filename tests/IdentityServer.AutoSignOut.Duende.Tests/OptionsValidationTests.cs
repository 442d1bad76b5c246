using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer.Duende.Tests;

/// <summary>The binding's settings are refused when the host starts, not at the first revocation.</summary>
[TestClass]
public sealed class OptionsValidationTests
{
    [TestMethod]
    [DataRow("not a uri", 60, "Issuer")]
    [DataRow(null, -1, "NotificationRetryWindow")]
    [DataRow(null, 2 * 24 * 3600, "NotificationRetryWindow")]
    public void Settings_the_binding_cannot_work_with_are_refused(string? issuer, int retryWindowSeconds, string named)
    {
        var services = new ServiceCollection().AddLogging(l => l.ClearProviders());
        services.AddIdentityServer().AddAutoSignOut(o =>
        {
            o.Issuer = issuer;
            o.NotificationRetryWindow = TimeSpan.FromSeconds(retryWindowSeconds);
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.ThrowsExactly<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AutoSignOutDuendeOptions>>().Value);
        StringAssert.Contains(error.Message, named);
    }

    [TestMethod]
    public void Zero_turns_the_retries_off_and_is_accepted()
    {
        var services = new ServiceCollection().AddLogging(l => l.ClearProviders());
        services.AddIdentityServer().AddAutoSignOut(o => o.NotificationRetryWindow = TimeSpan.Zero);
        using var provider = services.BuildServiceProvider();

        Assert.AreEqual(TimeSpan.Zero, provider.GetRequiredService<IOptions<AutoSignOutDuendeOptions>>().Value.NotificationRetryWindow);
    }
}
