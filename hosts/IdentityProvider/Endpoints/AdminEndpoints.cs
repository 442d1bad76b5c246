using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.OpenIddict;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Mvc;
using OpenIddict.Abstractions;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>The admin page's forms: end a user's sessions, end one session, revoke a client's grants.</summary>
internal static class AdminEndpoints
{
    /// <summary>The policy of the admin page and its forms: the <c>admin</c> role.</summary>
    public const string Policy = "admin";

    public static void MapAdminEndpoints(this WebApplication app)
    {
        // The forms carry antiforgery tokens; these endpoints bind no form field, so validation is asked for explicitly.
        var admin = app.MapGroup("/admin").RequireAuthorization(Policy).WithMetadata(new RequireAntiforgeryTokenAttribute());

        // Every IdP session of the user ends and their grants are revoked; each client of each session is told.
        admin.MapPost("/users/{id}/end-sessions", async (string id, UserManager<IdentityUser> users, [FromServices] IAutoSignOutSessionService sessions) =>
        {
            var user = await users.FindByIdAsync(id);
            if (user is null)
            {
                return Results.NotFound();
            }

            var ended = await sessions.SignOutEverywhereAsync(user.Id, RevocationReasons.AdminRevoked);
            return Results.LocalRedirect($"/admin?done=user&name={Uri.EscapeDataString(user.UserName ?? id)}&count={ended}");
        });

        admin.MapPost("/sessions/{sid}/end", async (string sid, [FromServices] IAutoSignOutSessionService sessions) =>
        {
            var ended = await sessions.EndSessionAsync(sid, RevocationReasons.AdminRevoked);
            return Results.LocalRedirect($"/admin?done=session&count={(ended ? 1 : 0)}");
        });

        admin.MapPost("/clients/{clientId}/revoke", async (string clientId, IOpenIddictApplicationManager applications, IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens) =>
        {
            var application = await applications.FindByClientIdAsync(clientId);
            if (application is null || await applications.GetIdAsync(application) is not { } applicationId)
            {
                return Results.NotFound();
            }

            // OpenIddict's own bulk calls; AutoSignOut's managers see them and notify each session of the client.
            long revoked;
            using (AutoSignOutRevocationReason.Use(RevocationReasons.AdminRevoked))
            {
                revoked = await authorizations.RevokeByApplicationIdAsync(applicationId);
                revoked += await tokens.RevokeByApplicationIdAsync(applicationId);
            }

            return Results.LocalRedirect($"/admin?done=client&name={Uri.EscapeDataString(clientId)}&count={revoked}");
        });
    }
}
