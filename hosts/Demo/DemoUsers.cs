using AutoSignOut.IdentityProvider;

namespace AutoSignOut.Demo;

/// <summary>The seeded users the demo prints and the headless run signs in as: two users and an administrator.</summary>
internal sealed record DemoUsers(SeedUser Alice, SeedUser Bob, SeedUser Admin, IReadOnlyList<SeedUser> All)
{
    public static DemoUsers From(IdentityProviderSettings settings)
    {
        var users = settings.SeedUsers;
        var plain = users.Where(u => !u.Roles.Contains("admin")).ToList();
        var admin = users.FirstOrDefault(u => u.Roles.Contains("admin"));
        if (plain.Count < 2 || admin is null)
        {
            throw new InvalidOperationException("The demo needs two seeded users and one in the admin role (Seed:Users).");
        }

        return new DemoUsers(plain[0], plain[1], admin, users);
    }
}
