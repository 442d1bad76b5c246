using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>The admin page's forms: end a user's sessions, end one session, revoke a client's grants.</summary>
internal static class AdminEndpoints
{
    /// <summary>The policy of the admin page and its forms: the <c>admin</c> role.</summary>
    public const string Policy = "admin";

    public static void MapAdminEndpoints(this WebApplication app)
    {
        var admin = app.MapGroup("/admin").RequireAuthorization(Policy);

        admin.MapPost("/users/{id}/end-sessions", async (string id, UserManager<IdentityUser> users) =>
        {
            var user = await users.FindByIdAsync(id);
            if (user is null)
            {
                return Results.NotFound();
            }

            await users.UpdateSecurityStampAsync(user);
            return Results.LocalRedirect("/admin?done=user&name=" + Uri.EscapeDataString(user.UserName ?? id));
        });

        admin.MapPost("/clients/{clientId}/revoke", async (string clientId, IOpenIddictApplicationManager applications, IOpenIddictAuthorizationManager authorizations, IOpenIddictTokenManager tokens) =>
        {
            var application = await applications.FindByClientIdAsync(clientId);
            if (application is null || await applications.GetIdAsync(application) is not { } applicationId)
            {
                return Results.NotFound();
            }

            var revoked = await authorizations.RevokeByApplicationIdAsync(applicationId);
            revoked += await tokens.RevokeByApplicationIdAsync(applicationId);
            return Results.LocalRedirect($"/admin?done=client&name={Uri.EscapeDataString(clientId)}&count={revoked}");
        });
    }
}
