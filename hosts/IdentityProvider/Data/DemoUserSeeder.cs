using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Identity;

namespace AutoSignOut.IdentityProvider.Data;

/// <summary>
/// Creates the demo users (<c>Seed:Users</c>) in ASP.NET Core Identity; both demo IdPs (OpenIddict here, Duende in
/// hosts/IdentityServer, which links this file) seed the same users this way.
/// </summary>
internal static class DemoUserSeeder
{
    /// <summary>The role that opens the admin page.</summary>
    public const string AdminRole = "admin";

    /// <summary>Creates the users that do not exist yet, with their <c>name</c> claim and roles; a later change is kept.</summary>
    /// <param name="provider">A scope's services (UserManager, RoleManager).</param>
    /// <param name="seeds">The users to create.</param>
    public static async Task SeedUsersAsync(IServiceProvider provider, IEnumerable<SeedUser> seeds)
    {
        var users = provider.GetRequiredService<UserManager<IdentityUser>>();
        var roles = provider.GetRequiredService<RoleManager<IdentityRole>>();
        foreach (var seed in seeds)
        {
            if (string.IsNullOrWhiteSpace(seed.UserName) || await users.FindByNameAsync(seed.UserName) is not null)
            {
                continue;
            }

            var user = new IdentityUser { UserName = seed.UserName, Email = seed.Email, EmailConfirmed = true };
            Check(await users.CreateAsync(user, seed.Password), seed.UserName);
            if (!string.IsNullOrWhiteSpace(seed.Name))
            {
                Check(await users.AddClaimAsync(user, new Claim("name", seed.Name)), seed.UserName);
            }

            foreach (var role in seed.Roles)
            {
                if (!await roles.RoleExistsAsync(role))
                {
                    Check(await roles.CreateAsync(new IdentityRole(role)), role);
                }

                Check(await users.AddToRoleAsync(user, role), seed.UserName);
            }
        }
    }

    private static void Check(IdentityResult result, string what)
    {
        if (!result.Succeeded)
        {
            throw new InvalidOperationException(string.Format(CultureInfo.InvariantCulture, "Seeding {0} failed: {1}", what, string.Join("; ", result.Errors.Select(e => e.Description))));
        }
    }
}
