namespace AutoSignOut.Testing.IdentityProviders;

/// <summary>A signed-in user with two live hub connections to the client app: one with the cookie, one with a bearer token.</summary>
internal sealed class LiveUser : IAsyncDisposable
{
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(10);

    private LiveUser(TestUser user, LiveConnection cookie, LiveConnection bearer)
    {
        User = user;
        Cookie = cookie;
        Bearer = bearer;
    }

    public TestUser User { get; }

    public LiveConnection Cookie { get; }

    public LiveConnection Bearer { get; }

    public static async Task<LiveUser> StartAsync(IIdentityProviderStack stack, string name, string? exactName = null)
    {
        var user = exactName is null ? TestUser.Create(stack, name) : new TestUser(stack, exactName);
        await user.SignInAsync();
        return new LiveUser(user, await user.ConnectWithCookieAsync(), await user.ConnectWithBearerAsync());
    }

    public async Task AssertSignedOutAsync(string reason)
    {
        Assert.IsTrue(await Cookie.ClosedWithinAsync(CloseTimeout), $"{User.Name}'s cookie connection should close");
        Assert.IsTrue(await Bearer.ClosedWithinAsync(CloseTimeout), $"{User.Name}'s bearer connection should close");
        Assert.AreEqual(reason, await Cookie.SignedOutReasonWithinAsync(CloseTimeout), "the reason reaches the connection");
        Assert.HasCount(1, Cookie.SignedOutReasons, $"told once: {string.Join(", ", Cookie.SignedOutReasons)}");
        Assert.IsTrue(await User.CookieRefusedAsync(), $"{User.Name}'s cookie should be refused");
        Assert.IsTrue(await User.BearerRefusedAsync(User.Tokens!.AccessToken), $"{User.Name}'s access token should be refused");
    }

    public async Task AssertStillLiveAsync()
    {
        // Give a wrongly aimed sign-out the time it would take to land.
        await Task.Delay(300);
        Assert.IsTrue(Cookie.IsOpen, $"{User.Name}'s cookie connection should stay open");
        Assert.IsTrue(Bearer.IsOpen, $"{User.Name}'s bearer connection should stay open");
    }

    public async ValueTask DisposeAsync()
    {
        await Cookie.DisposeAsync();
        await Bearer.DisposeAsync();
        User.Dispose();
    }
}
