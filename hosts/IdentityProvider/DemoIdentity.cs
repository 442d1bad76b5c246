using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityProvider;

/// <summary>
/// ASP.NET Core Identity as both demo IdPs (OpenIddict here, Duende in hosts/IdentityServer, which links this file)
/// use it: the demo's password rules, and the IdP cookie on the shared sign-in, sign-out and denied pages.
/// </summary>
internal static class DemoIdentity
{
    /// <summary>Adds Identity with <typeparamref name="TContext"/>'s stores and its application cookie.</summary>
    /// <typeparam name="TContext">The context holding Identity's tables.</typeparam>
    /// <param name="services">The services.</param>
    /// <param name="cookieName">The IdP cookie's name.</param>
    /// <param name="lifetime">How long the cookie lives, sliding with activity.</param>
    public static IdentityBuilder AddDemoIdentity<TContext>(this IServiceCollection services, string cookieName, TimeSpan lifetime)
        where TContext : DbContext
    {
        var identity = services.AddIdentity<IdentityUser, IdentityRole>(o =>
            {
                // Demo passwords are plain words and digits; production IdPs keep Identity's defaults or stricter.
                o.Password.RequireNonAlphanumeric = false;
                o.Password.RequireUppercase = false;
                o.Password.RequiredLength = 8;
                o.User.RequireUniqueEmail = true;
            })
            .AddEntityFrameworkStores<TContext>()
            .AddDefaultTokenProviders();
        services.ConfigureApplicationCookie((CookieAuthenticationOptions o) =>
        {
            o.LoginPath = "/account/sign-in";
            o.LogoutPath = "/account/sign-out";
            o.AccessDeniedPath = "/account/denied";
            o.Cookie.Name = cookieName;
            o.Cookie.SameSite = SameSiteMode.Lax;
            o.SlidingExpiration = true;
            o.ExpireTimeSpan = lifetime;
        });
        return identity;
    }
}
