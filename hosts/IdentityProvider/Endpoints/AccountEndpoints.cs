using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>The forms of the sign-in and account pages: sign in, sign out, change password.</summary>
internal static class AccountEndpoints
{
    /// <summary>The reason sent to client apps after a password change (their signed-out page explains it).</summary>
    public const string PasswordChangedReason = RevocationReasons.PasswordChanged;

    public static void MapAccountEndpoints(this WebApplication app)
    {
        var account = app.MapGroup("/account");

        account.MapPost("/sign-in", async (SignInManager<IdentityUser> signIn, UserManager<IdentityUser> users, [FromForm] string userName, [FromForm] string password, [FromForm] string? returnUrl) =>
        {
            var back = IsLocal(returnUrl) ? returnUrl! : "/account";
            userName = userName?.Trim() ?? string.Empty;
            var user = userName.Contains('@', StringComparison.Ordinal) ? await users.FindByEmailAsync(userName) : await users.FindByNameAsync(userName);
            var result = user is null
                ? Microsoft.AspNetCore.Identity.SignInResult.Failed
                : await signIn.PasswordSignInAsync(user, password ?? string.Empty, isPersistent: false, lockoutOnFailure: true);
            if (result.Succeeded)
            {
                return Results.LocalRedirect(back);
            }

            var error = result.IsLockedOut ? "locked" : "invalid";
            return Results.LocalRedirect($"{IdentityProviderHost.SignInPath}?error={error}&userName={Uri.EscapeDataString(userName)}&returnUrl={Uri.EscapeDataString(back)}");
        });

        // The plain "Sign out" button of the IdP's own pages; clients sign users out through the end-session endpoint.
        account.MapPost("/sign-out", [RequireAntiforgeryToken] async (SignInManager<IdentityUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/signed-out");
        });

        account.MapPost("/change-password", async (HttpContext http, UserManager<IdentityUser> users, SignInManager<IdentityUser> signIn, [FromServices] IAutoSignOutSessionService sessions, [FromForm] string currentPassword, [FromForm] string newPassword, [FromForm] string confirmPassword) =>
        {
            var user = await users.GetUserAsync(http.User);
            if (user is null)
            {
                return Results.Challenge();
            }

            if (newPassword != confirmPassword)
            {
                return Results.LocalRedirect("/account?error=mismatch");
            }

            var result = await users.ChangePasswordAsync(user, currentPassword ?? string.Empty, newPassword ?? string.Empty);
            if (!result.Succeeded)
            {
                return Results.LocalRedirect("/account?error=" + Uri.EscapeDataString(result.Errors.FirstOrDefault()?.Code ?? "failed"));
            }

            // A new password ends every session of the user, on every device, and revokes their grants: one call.
            // This browser's session ended with them; dropping its cookie sends it to sign in with the new password.
            await sessions.SignOutEverywhereAsync(user.Id, PasswordChangedReason);
            await signIn.SignOutAsync();
            return Results.LocalRedirect(IdentityProviderHost.SignInPath + "?message=password_changed");
        }).RequireAuthorization();
    }

    internal static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
