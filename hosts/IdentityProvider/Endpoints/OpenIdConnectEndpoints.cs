using System.Security.Claims;
using Microsoft.AspNetCore;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;
using OpenIddict.Abstractions;
using OpenIddict.Server.AspNetCore;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityProvider.Endpoints;

/// <summary>
/// The OpenID Connect endpoints OpenIddict passes through to the app: authorization (who is signed in, which claims
/// go into the tokens), end-session (sign the user out of the IdP) and userinfo. Token, revocation and discovery
/// are answered by OpenIddict itself.
/// </summary>
internal static class OpenIdConnectEndpoints
{
    public static void MapOpenIdConnectEndpoints(this WebApplication app)
    {
        app.MapMethods(IdentityProviderHost.AuthorizationPath, [HttpMethods.Get, HttpMethods.Post], AuthorizeAsync).DisableAntiforgery();
        app.MapMethods(IdentityProviderHost.EndSessionPath, [HttpMethods.Get, HttpMethods.Post], EndSessionAsync).DisableAntiforgery();
        app.MapMethods(IdentityProviderHost.UserInfoPath, [HttpMethods.Get, HttpMethods.Post], UserInfoAsync).DisableAntiforgery();
    }

    private static async Task<IResult> AuthorizeAsync(HttpContext http, UserManager<IdentityUser> users, IOpenIddictApplicationManager applications)
    {
        var request = http.GetOpenIddictServerRequest() ?? throw new InvalidOperationException("The OpenID Connect request cannot be retrieved.");

        // The IdP session is the Identity cookie. No cookie, or the client asks for a fresh login: go to the sign-in page.
        var result = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        if (!result.Succeeded || request.HasPromptValue(PromptValues.Login) || IsTooOld(request, result.Properties))
        {
            if (request.HasPromptValue(PromptValues.None))
            {
                return Forbid(Errors.LoginRequired, "The user is not signed in.");
            }

            // Drop prompt=login from the request the sign-in page returns to, or the user would loop.
            var parameters = http.Request.HasFormContentType ? http.Request.Form.ToList() : http.Request.Query.ToList();
            parameters.RemoveAll(p => p.Key == Parameters.Prompt);
            var returnUrl = http.Request.PathBase + http.Request.Path + QueryString.Create(parameters);
            return Results.Challenge(new AuthenticationProperties { RedirectUri = returnUrl }, [IdentityConstants.ApplicationScheme]);
        }

        var user = await users.GetUserAsync(result.Principal);
        if (user is null)
        {
            return Forbid(Errors.LoginRequired, "The user no longer exists.");
        }

        if (await applications.FindByClientIdAsync(request.ClientId!) is null)
        {
            return Forbid(Errors.InvalidClient, "The client is not registered.");
        }

        // Registered clients have implicit consent (ConsentTypes.Implicit): the demo IdP has no consent screen.
        // No authorization is attached here: OpenIddict creates an ad-hoc one per code flow, so each sign-in of a
        // client has its own grant, and revoking one session's grant leaves the user's other sessions alone.
        var identity = await UserClaims.CreateIdentityAsync(users, user);
        var principal = new ClaimsPrincipal(identity);
        principal.SetScopes(request.GetScopes());
        principal.SetResources(request.ClientId!);
        return Results.SignIn(principal, authenticationScheme: OpenIddictServerAspNetCoreDefaults.AuthenticationScheme);
    }

    private static async Task<IResult> EndSessionAsync(HttpContext http, SignInManager<IdentityUser> signIn, IAntiforgery antiforgery)
    {
        // A request that names the session (a valid id_token_hint, checked by OpenIddict) signs out at once, as
        // clients expect; one without it is confirmed by the user first (logout CSRF), on the end-session page.
        var hint = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var confirmed = HttpMethods.IsPost(http.Request.Method) && http.Request.HasFormContentType && http.Request.Form.ContainsKey("confirm");
        if (confirmed)
        {
            await antiforgery.ValidateRequestAsync(http);
        }

        var cookie = await http.AuthenticateAsync(IdentityConstants.ApplicationScheme);
        var signedIn = cookie.Succeeded;
        var hintMatches = hint?.GetClaim(Claims.Subject) is { } hinted && hinted == cookie.Principal?.FindFirstValue(ClaimTypes.NameIdentifier);
        if (signedIn && !hintMatches && !confirmed)
        {
            var query = http.Request.HasFormContentType ? QueryString.Create(http.Request.Form.ToList()) : http.Request.QueryString;
            return Results.Redirect("/account/end-session" + query);
        }

        if (signedIn)
        {
            await signIn.SignOutAsync();
        }

        // OpenIddict redirects to the client's registered post_logout_redirect_uri, or here when it sent none.
        return Results.SignOut(new AuthenticationProperties { RedirectUri = "/account/signed-out" }, [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
    }

    private static async Task<IResult> UserInfoAsync(HttpContext http, UserManager<IdentityUser> users)
    {
        var principal = (await http.AuthenticateAsync(OpenIddictServerAspNetCoreDefaults.AuthenticationScheme)).Principal;
        var user = principal?.GetClaim(Claims.Subject) is { } subject ? await users.FindByIdAsync(subject) : null;
        if (principal is null || user is null)
        {
            return Results.Challenge(
                new AuthenticationProperties(new Dictionary<string, string?>
                {
                    [OpenIddictServerAspNetCoreConstants.Properties.Error] = Errors.InvalidToken,
                    [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = "The access token is no longer valid.",
                }),
                [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
        }

        var claims = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            [Claims.Subject] = user.Id,
            [Claims.Name] = await UserClaims.DisplayNameAsync(users, user),
            [Claims.PreferredUsername] = user.UserName ?? user.Id,
        };
        if (principal.HasScope(Scopes.Email) && user.Email is { } email)
        {
            claims[Claims.Email] = email;
            claims[Claims.EmailVerified] = user.EmailConfirmed;
        }

        if (principal.HasScope(Scopes.Roles))
        {
            claims[Claims.Role] = await users.GetRolesAsync(user);
        }

        return Results.Ok(claims);
    }

    private static bool IsTooOld(OpenIddictRequest request, AuthenticationProperties? properties) =>
        request.MaxAge is { } maxAge && properties?.IssuedUtc is { } issued && DateTimeOffset.UtcNow - issued > TimeSpan.FromSeconds(maxAge);

    private static IResult Forbid(string error, string description) => Results.Forbid(
        new AuthenticationProperties(new Dictionary<string, string?>
        {
            [OpenIddictServerAspNetCoreConstants.Properties.Error] = error,
            [OpenIddictServerAspNetCoreConstants.Properties.ErrorDescription] = description,
        }),
        [OpenIddictServerAspNetCoreDefaults.AuthenticationScheme]);
}
