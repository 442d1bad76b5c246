using AutoSignOut.IdentityProvider.Endpoints;
using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.Duende;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;

namespace AutoSignOut.IdentityServerHost.Endpoints;

/// <summary>
/// The account forms: sign in, sign out and change password (shared with the OpenIddict IdP), and the logout page
/// Duende's end-session endpoint sends the browser to.
/// </summary>
internal static class AccountEndpoints
{
    public static void MapAccountEndpoints(this WebApplication app)
    {
        var account = app.MapGroup("/account");
        account.MapSignInEndpoints();

        // Sign out everywhere: every server-side session of the user ends (this browser's too) and every grant is
        // revoked; the binding tells each client of each session, reason password_changed.
        account.MapChangePasswordEndpoint(async (http, user) =>
        {
            var services = http.RequestServices;
            using (AutoSignOutRevocationReason.Use(RevocationReasons.PasswordChanged))
            {
                await services.GetRequiredService<ISessionManagementService>().RemoveSessionsAsync(new RemoveSessionsContext { SubjectId = user.Id });
                await services.GetRequiredService<IPersistedGrantService>().RemoveAllGrantsAsync(user.Id);
            }
        });

        // Duende's end-session endpoint validated the request and sends the browser here with a logoutId. A request
        // that names this session (a valid id_token_hint) signs out at once; any other is confirmed first (logout CSRF).
        account.MapGet("/logout", async (HttpContext http, IIdentityServerInteractionService interaction, SignInManager<IdentityUser> signIn, string? logoutId) =>
        {
            var context = await interaction.GetLogoutContextAsync(logoutId);
            if (http.User.Identity?.IsAuthenticated == true && context.ShowSignoutPrompt)
            {
                return Results.LocalRedirect("/account/logout/confirm" + QueryString.Create("logoutId", logoutId ?? string.Empty));
            }

            return await SignOutAsync(http, signIn, context);
        });

        account.MapPost("/logout", [RequireAntiforgeryToken] async (HttpContext http, IIdentityServerInteractionService interaction, SignInManager<IdentityUser> signIn) =>
        {
            var logoutId = http.Request.Form["logoutId"].ToString();
            return await SignOutAsync(http, signIn, await interaction.GetLogoutContextAsync(string.IsNullOrEmpty(logoutId) ? null : logoutId));
        });
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, SignInManager<IdentityUser> signIn, LogoutRequest context)
    {
        // Duende's session coordination runs in this sign-out: with the binding, the clients' logout tokens are
        // stored and sent in the background; without it, Duende posts them itself before this returns.
        if (http.User.Identity?.IsAuthenticated == true)
        {
            await signIn.SignOutAsync();
        }

        return context.PostLogoutRedirectUri is { Length: > 0 } back ? Results.Redirect(back) : Results.LocalRedirect("/account/signed-out");
    }
}
