using System.Diagnostics.CodeAnalysis;
using AutoSignOut.AspNetCore;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps AutoSignOut's back-channel logout endpoint.</summary>
public static class AutoSignOutEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps the OIDC back-channel logout endpoint at <paramref name="pattern"/> (default
    /// <see cref="AutoSignOutDefaults.BackChannelLogoutPath"/>). It allows anonymous callers: the logout token is the
    /// credential. Register this URI as the client's <c>backchannel_logout_uri</c> at the OpenID Provider.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <param name="pattern">The route pattern.</param>
    /// <returns>A builder to add conventions to the endpoint, such as <c>RequireHost</c>.</returns>
    public static IEndpointConventionBuilder MapBackChannelLogout(this IEndpointRouteBuilder endpoints, [StringSyntax("Route")] string pattern = AutoSignOutDefaults.BackChannelLogoutPath)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var endpoint = endpoints.ServiceProvider.GetService<BackChannelLogoutEndpoint>()
            ?? throw new InvalidOperationException("Call services.AddAutoSignOut() before MapBackChannelLogout().");
        return endpoints.Map(pattern, endpoint.HandleAsync)
            .WithDisplayName("AutoSignOut back-channel logout")
            .AllowAnonymous();
    }
}
