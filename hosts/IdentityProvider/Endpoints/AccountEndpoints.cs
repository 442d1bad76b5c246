using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>The forms of the sign-in and account pages: sign in, sign out, change password.</summary>
internal static class AccountEndpoints
{
    /// <summary>The reason sent to client apps after a password change (their signed-out page explains it).</summary>
    public const string PasswordChangedReason = RevocationReasons.PasswordChanged;

    public static void MapAccountEndpoints(this WebApplication app)
    {
        var account = app.MapGroup("/account");

        account.MapSignInEndpoints();

        account.MapChangePasswordEndpoint((http, user) =>
            http.RequestServices.GetRequiredService<IAutoSignOutSessionService>().SignOutEverywhereAsync(user.Id, PasswordChangedReason));
    }
}
