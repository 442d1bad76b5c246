using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>
/// The account forms that are ASP.NET Core Identity only — sign in, the plain "Sign out" button, change password — so
/// both demo IdPs (OpenIddict here, Duende in hosts/IdentityServer, which links this file) answer them alike. Each
/// IdP's binding sees the cookie sign-in and sign-out and does the rest (a session and its <c>sid</c>, logout tokens
/// to its clients); "sign out everywhere" after a password change is the IdP's own call.
/// </summary>
internal static class IdentityAccountEndpoints
{
    /// <summary>The sign-in page, where a failed attempt goes back to.</summary>
    public const string SignInPath = "/account/sign-in";

    /// <summary>Maps <c>POST {group}/sign-in</c> and <c>POST {group}/sign-out</c>.</summary>
    /// <param name="account">The <c>/account</c> group.</param>
    public static void MapSignInEndpoints(this RouteGroupBuilder account)
    {
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
            return Results.LocalRedirect($"{SignInPath}?error={error}&userName={Uri.EscapeDataString(userName)}&returnUrl={Uri.EscapeDataString(back)}");
        });

        // The plain "Sign out" button of the IdP's own pages; clients sign users out through the end-session endpoint.
        account.MapPost("/sign-out", [RequireAntiforgeryToken] async (SignInManager<IdentityUser> signIn) =>
        {
            await signIn.SignOutAsync();
            return Results.LocalRedirect("/account/signed-out");
        });
    }

    /// <summary>
    /// Maps <c>POST {group}/change-password</c>: checks the form and changes the password, then
    /// <paramref name="signOutEverywhere"/> ends every session of the user and revokes their grants, and this browser,
    /// its cookie dropped, is sent to sign in with the new password.
    /// </summary>
    /// <param name="account">The <c>/account</c> group.</param>
    /// <param name="signOutEverywhere">The IdP's "sign out everywhere" for the user, reason <c>password_changed</c>.</param>
    public static RouteHandlerBuilder MapChangePasswordEndpoint(this RouteGroupBuilder account, Func<HttpContext, IdentityUser, Task> signOutEverywhere) =>
        account.MapPost("/change-password", async (HttpContext http, UserManager<IdentityUser> users, SignInManager<IdentityUser> signIn, [FromForm] string currentPassword, [FromForm] string newPassword, [FromForm] string confirmPassword) =>
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

            // A new password ends every session of the user, on every device, and revokes their grants. This browser's
            // session ended with them; dropping its cookie sends it to sign in with the new password.
            await signOutEverywhere(http, user);
            await signIn.SignOutAsync();
            return Results.LocalRedirect(SignInPath + "?message=password_changed");
        }).RequireAuthorization();

    /// <summary>Whether <paramref name="url"/> is a path on this site (no open redirect).</summary>
    /// <param name="url">A return URL from a form or query.</param>
    internal static bool IsLocal(string? url) =>
        !string.IsNullOrEmpty(url) && url.StartsWith('/') && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal);
}
