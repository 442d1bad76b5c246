using System.Security.Claims;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;
using TokenDestinations = OpenIddict.Abstractions.OpenIddictConstants.Destinations;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>The claims an IdP user carries into tokens and userinfo: <c>sub</c>, <c>name</c>, <c>email</c>, <c>role</c>.</summary>
internal static class UserClaims
{
    /// <summary>The user's display name: their <c>name</c> claim, else the user name.</summary>
    public static async Task<string> DisplayNameAsync(UserManager<IdentityUser> users, IdentityUser user) =>
        (await users.GetClaimsAsync(user)).FirstOrDefault(c => c.Type == Claims.Name)?.Value ?? user.UserName ?? user.Id;

    /// <summary>Builds the identity OpenIddict signs into tokens, with each claim's destinations.</summary>
    public static async Task<ClaimsIdentity> CreateIdentityAsync(UserManager<IdentityUser> users, IdentityUser user)
    {
        var identity = new ClaimsIdentity(
            authenticationType: "OpenIddict.Server.AspNetCore",
            nameType: Claims.Name,
            roleType: Claims.Role);
        identity.AddClaim(new Claim(Claims.Subject, user.Id));
        identity.AddClaim(new Claim(Claims.Name, await DisplayNameAsync(users, user)));
        identity.AddClaim(new Claim(Claims.PreferredUsername, user.UserName ?? user.Id));
        if (user.Email is { } email)
        {
            identity.AddClaim(new Claim(Claims.Email, email));
        }

        foreach (var role in await users.GetRolesAsync(user))
        {
            identity.AddClaim(new Claim(Claims.Role, role));
        }

        // sub, name, email and role go into both tokens: the client app shows the name and checks roles either way.
        foreach (var claim in identity.Claims)
        {
            claim.SetDestinations(TokenDestinations.AccessToken, TokenDestinations.IdentityToken);
        }
        return identity;
    }
}
