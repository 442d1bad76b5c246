using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityProvider.Data;

/// <summary>
/// The IdP's one database: ASP.NET Core Identity's users and roles, OpenIddict's applications, authorizations and
/// tokens (<c>UseOpenIddict()</c> on the options), and AutoSignOut's sessions, jti index and outbox, so a revocation
/// and its logout notifications commit together.
/// </summary>
/// <param name="options">The options.</param>
public sealed class IdpDbContext(DbContextOptions<IdpDbContext> options) : IdentityDbContext<IdentityUser>(options)
{
    /// <inheritdoc />
    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        builder.UseAutoSignOut();
    }
}
