using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;

namespace AutoSignOut.AspNetCore;

/// <summary>
/// Makes cookie schemes answer a SignalR negotiate or connect request that is not (or no longer) authenticated with
/// 401/403 instead of a redirect to the login page, which a SignalR client cannot follow.
/// </summary>
internal sealed class AutoSignOutCookieOptionsSetup : IPostConfigureOptions<CookieAuthenticationOptions>
{
    public void PostConfigure(string? name, CookieAuthenticationOptions options)
    {
        var redirectToLogin = options.Events.OnRedirectToLogin;
        options.Events.OnRedirectToLogin = context => IsHubRequest(context.HttpContext) ? Status(context.HttpContext, StatusCodes.Status401Unauthorized) : redirectToLogin(context);
        var redirectToAccessDenied = options.Events.OnRedirectToAccessDenied;
        options.Events.OnRedirectToAccessDenied = context => IsHubRequest(context.HttpContext) ? Status(context.HttpContext, StatusCodes.Status403Forbidden) : redirectToAccessDenied(context);
    }

    private static bool IsHubRequest(HttpContext context) => context.GetEndpoint()?.Metadata.GetMetadata<HubMetadata>() is not null;

    private static Task Status(HttpContext context, int status)
    {
        context.Response.StatusCode = status;
        return Task.CompletedTask;
    }
}
