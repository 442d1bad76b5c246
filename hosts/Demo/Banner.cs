namespace AutoSignOut.Demo;

/// <summary>What the interactive demo prints: the URLs, the users and what to try.</summary>
internal static class Banner
{
    public static void Print(TextWriter output, DemoSettings settings, DemoUsers users)
    {
        var idp = settings.IdentityProviderUrl.AbsoluteUri.TrimEnd('/');
        var client = settings.ClientAppUrl.AbsoluteUri.TrimEnd('/');
        output.WriteLine($"""

            AutoSignOut demo: an identity provider and a client app, revocations at one close live tabs in the other.

              Identity provider  {idp}   (OpenIddict + ASP.NET Core Identity, SQLite)
              Client app         {client}   (Blazor Server + SignalR chat)
              Data               {settings.DataPath}   (delete it to start over)

            Users, with their seeded passwords
            """);
        foreach (var user in users.All)
        {
            output.WriteLine($"  {user.UserName,-8} {user.Password,-20} {(user.Roles.Count > 0 ? "roles: " + string.Join(", ", user.Roles) : string.Empty)}");
        }

        output.WriteLine($"""

            Try it
              1. Open {client}, press "Sign in with the identity provider" and sign in as {users.Alice.UserName}; open Live in two tabs.
              2. In a private window, sign in as {users.Bob.UserName} and open Live: his counter keeps ticking throughout.
              3. Then, in another tab of {users.Alice.UserName}'s window, do one of:
                   - sign out at the identity provider: {idp} -> Sign out (or Sign out in the client app)
                   - change the password: {idp}/account
                   - in a private window, as {users.Admin.UserName}: {idp}/admin -> "End sessions" for {users.Alice.UserName},
                     or "Revoke all grants" of client-app (every user of the client app is signed out)
              Watch {users.Alice.UserName}'s live tabs leave for the signed-out page at once, with the reason.

            Every trigger, by itself, with a timeline: dotnet run --project hosts/Demo -- --headless
            Ctrl+C stops both.
            """);
    }
}
