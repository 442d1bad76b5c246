using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;

namespace AutoSignOut.IdentityServerHost.Data;

/// <summary>
/// ASP.NET Core Identity's users and roles. Its tables share one SQLite file with Duende's operational store
/// (grants, server-side sessions) and AutoSignOut's outbox and jti index, each mapped by its own context.
/// </summary>
/// <param name="options">The options.</param>
public sealed class UsersDbContext(DbContextOptions<UsersDbContext> options) : IdentityDbContext<IdentityUser>(options);
