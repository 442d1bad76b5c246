using AutoSignOut.IdentityServer;
using AutoSignOut.IdentityServer.Duende;
using Duende.IdentityServer.Models;
using Duende.IdentityServer.Services;
using Duende.IdentityServer.Stores;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Identity;

namespace AutoSignOut.IdentityServerHost.Endpoints;

/// <summary>
/// The admin page's forms, each one Duende API call that the binding turns into logout tokens: end a user's sessions
/// or one session (<see cref="ISessionManagementService"/>), revoke a user's grants (<see cref="IPersistedGrantService"/>),
/// revoke a client's grants (<see cref="IPersistedGrantStore"/>). Reason <c>admin_revoked</c>.
/// </summary>
internal static class AdminEndpoints
{
    /// <summary>The policy of the admin page and its forms: the <c>admin</c> role.</summary>
    public const string Policy = "admin";

    public static void MapAdminEndpoints(this WebApplication app)
    {
        // The forms carry antiforgery tokens; these endpoints bind no form field, so validation is asked for explicitly.
        var admin = app.MapGroup("/admin").RequireAuthorization(Policy).WithMetadata(new RequireAntiforgeryTokenAttribute());

        // Every server-side session of the user ends, with its grants; each client of each session is told.
        admin.MapPost("/users/{id}/end-sessions", async (string id, UserManager<IdentityUser> users, ISessionManagementService sessions) =>
        {
            var user = await users.FindByIdAsync(id);
            if (user is null)
            {
                return Results.NotFound();
            }

            var ended = (await sessions.QuerySessionsAsync(new SessionQuery { SubjectId = user.Id, CountRequested = 1000 })).Results.Count;
            await sessions.RemoveSessionsAsync(new RemoveSessionsContext { SubjectId = user.Id });
            return Results.LocalRedirect($"/admin?done=user&name={Uri.EscapeDataString(user.UserName ?? id)}&count={ended}");
        });

        // The user's grants (refresh and reference tokens, consents) are revoked; their IdP sessions stay. Each client
        // that held a live token is told, for the session the token belonged to.
        admin.MapPost("/users/{id}/revoke-grants", async (string id, UserManager<IdentityUser> users, IPersistedGrantService grants) =>
        {
            var user = await users.FindByIdAsync(id);
            if (user is null)
            {
                return Results.NotFound();
            }

            var count = (await grants.GetAllGrantsAsync(user.Id)).Count();
            using (AutoSignOutRevocationReason.Use(RevocationReasons.AdminRevoked))
            {
                await grants.RemoveAllGrantsAsync(user.Id);
            }

            return Results.LocalRedirect($"/admin?done=grants&name={Uri.EscapeDataString(user.UserName ?? id)}&count={count}");
        });

        admin.MapPost("/sessions/{sid}/end", async (string sid, ISessionManagementService sessions) =>
        {
            var found = (await sessions.QuerySessionsAsync(new SessionQuery { SessionId = sid })).Results.Count;
            await sessions.RemoveSessionsAsync(new RemoveSessionsContext { SessionId = sid });
            return Results.LocalRedirect($"/admin?done=session&count={found}");
        });

        admin.MapPost("/clients/{clientId}/revoke", async (string clientId, IPersistedGrantStore store) =>
        {
            var filter = new PersistedGrantFilter { ClientId = clientId };
            var count = (await store.GetAllAsync(filter)).Count();
            using (AutoSignOutRevocationReason.Use(RevocationReasons.AdminRevoked))
            {
                await store.RemoveAllAsync(filter);
            }

            return Results.LocalRedirect($"/admin?done=client&name={Uri.EscapeDataString(clientId)}&count={count}");
        });
    }
}
