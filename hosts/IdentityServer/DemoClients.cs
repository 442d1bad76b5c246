using AutoSignOut.IdentityProvider;
using Duende.IdentityServer;
using Duende.IdentityServer.Models;

namespace AutoSignOut.IdentityServerHost;

/// <summary>
/// What IdentityServer knows of its clients and scopes, in memory: hosts/ClientApp registered as the OpenIddict IdP
/// registers it (<c>IdentityProvider:ClientApp:*</c>), with its back-channel logout URI, a session required.
/// </summary>
public static class DemoClients
{
    /// <summary>The identity scopes: <c>openid</c>, <c>profile</c>, <c>email</c>, <c>roles</c>.</summary>
    public static IReadOnlyList<IdentityResource> IdentityResources { get; } =
    [
        new IdentityResources.OpenId(),
        new IdentityResources.Profile(),
        new IdentityResources.Email(),
        new IdentityResource("roles", "Your roles", ["role"]),
    ];

    /// <summary>The API scope of the client app's hub (<see cref="IdentityServerHost.HubScope"/>).</summary>
    public static IReadOnlyList<ApiScope> ApiScopes { get; } = [new ApiScope(IdentityServerHost.HubScope, "The client app's live hub")];

    /// <summary>The client app as an API: access tokens for the hub scope carry its client id as audience, which its JwtBearer scheme expects.</summary>
    /// <param name="client">The client app's registration.</param>
    public static IReadOnlyList<ApiResource> ApiResources(ClientRegistration client) =>
        [new ApiResource(client.ClientId, client.DisplayName) { Scopes = { IdentityServerHost.HubScope } }];

    /// <summary>The client app: code flow with PKCE, refresh tokens, back-channel logout with a session required.</summary>
    /// <param name="settings">The IdP's settings.</param>
    public static Client ClientApp(IdentityProviderSettings settings)
    {
        var client = settings.ClientApp;
        return new Client
        {
            ClientId = client.ClientId,
            ClientName = client.DisplayName,
            RequireClientSecret = client.ClientSecret is not null,
            ClientSecrets = client.ClientSecret is { } secret ? [new Secret(secret.Sha256())] : [],
            RequirePkce = true,
            AllowedGrantTypes = GrantTypes.Code,
            RedirectUris = { client.Resolve(client.RedirectPath).AbsoluteUri },
            PostLogoutRedirectUris = { client.Resolve(client.PostLogoutRedirectPath).AbsoluteUri },
            AllowedScopes =
            {
                IdentityServerConstants.StandardScopes.OpenId,
                IdentityServerConstants.StandardScopes.Profile,
                IdentityServerConstants.StandardScopes.Email,
                "roles",
                IdentityServerHost.HubScope,
            },
            AllowOfflineAccess = true,
            RefreshTokenUsage = TokenUsage.OneTimeOnly,
            AccessTokenLifetime = (int)settings.AccessTokenLifetime.TotalSeconds,
            AbsoluteRefreshTokenLifetime = (int)settings.RefreshTokenLifetime.TotalSeconds,
            BackChannelLogoutUri = client.Resolve(client.BackChannelLogoutPath).AbsoluteUri,
            BackChannelLogoutSessionRequired = true,

            // The client's grants end with the user's IdP session (sign-out, expiry), as they do at the OpenIddict IdP.
            CoordinateLifetimeWithUserSession = true,
            AlwaysIncludeUserClaimsInIdToken = true,
        };
    }
}
