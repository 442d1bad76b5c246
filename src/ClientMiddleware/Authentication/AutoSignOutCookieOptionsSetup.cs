using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Makes cookie schemes answer a SignalR negotiate or connect request that is not (or no longer) authenticated with
/// 401/403 instead of a redirect to the login page, which a SignalR client cannot follow; and keeps a cookie's issue
/// time across renewals: a revoked cookie is never renewed (sliding expiration, <c>ShouldRenew</c>) nor re-issued from
/// <c>OnValidatePrincipal</c>, and a renewed or re-issued one keeps the time of the ticket it replaces.
/// </summary>
/// <remarks>It wraps the delegates of <see cref="CookieAuthenticationOptions.Events"/>; an app that sets <c>EventsType</c> instead keeps its own.</remarks>
internal sealed class AutoSignOutCookieOptionsSetup : IPostConfigureOptions<CookieAuthenticationOptions>
{
    public void PostConfigure(string? name, CookieAuthenticationOptions options)
    {
        var redirectToLogin = options.Events.OnRedirectToLogin;
        options.Events.OnRedirectToLogin = context => IsHubRequest(context.HttpContext) ? Status(context.HttpContext, StatusCodes.Status401Unauthorized) : redirectToLogin(context);
        var redirectToAccessDenied = options.Events.OnRedirectToAccessDenied;
        options.Events.OnRedirectToAccessDenied = context => IsHubRequest(context.HttpContext) ? Status(context.HttpContext, StatusCodes.Status403Forbidden) : redirectToAccessDenied(context);

        var validatePrincipal = options.Events.OnValidatePrincipal;
        options.Events.OnValidatePrincipal = async context =>
        {
            var check = context.HttpContext.RequestServices.GetService<SessionCheck>();
            if (check is null || context.Principal is null)
            {
                await validatePrincipal(context);
                return;
            }

            var issuedAt = SessionCheck.GetIssueTime(context.Properties, context.Principal);
            if (check.IsRevoked(context.Principal, issuedAt))
            {
                // The app's hook is not run for a revoked ticket: nothing may re-issue it. The authentication service refuses it.
                context.ShouldRenew = false;
                return;
            }

            var items = context.HttpContext.Items;
            items[SessionCheck.ReissuedTicketTimeKey] = issuedAt;
            try
            {
                await validatePrincipal(context);
            }
            finally
            {
                items.Remove(SessionCheck.ReissuedTicketTimeKey);
            }

            if (context.ShouldRenew)
            {
                SessionCheck.Stamp(context.Properties, issuedAt);
            }
        };

        var checkSlidingExpiration = options.Events.OnCheckSlidingExpiration;
        options.Events.OnCheckSlidingExpiration = async context =>
        {
            await checkSlidingExpiration(context);
            var check = context.HttpContext.RequestServices.GetService<SessionCheck>();
            if (!context.ShouldRenew || check is null || context.Principal is null)
            {
                return;
            }

            var issuedAt = SessionCheck.GetIssueTime(context.Properties, context.Principal);
            if (check.IsRevoked(context.Principal, issuedAt))
            {
                context.ShouldRenew = false;
                return;
            }

            // A renewed ticket gets a new IssuedUtc: keep the original as the precise time.
            SessionCheck.Stamp(context.Properties, issuedAt);
        };
    }

    private static bool IsHubRequest(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<HubMetadata>() is not null;

    private static Task Status(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }
}
