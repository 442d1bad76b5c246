using Microsoft.EntityFrameworkCore;
using OpenIddict.Abstractions;
using static OpenIddict.Abstractions.OpenIddictConstants;

namespace AutoSignOut.IdentityProvider.Data;

/// <summary>Creates the schema and the demo data: users, roles and the client app's registration.</summary>
public static class IdentityProviderSeeder
{
    /// <summary>The role that opens the admin page.</summary>
    public const string AdminRole = DemoUserSeeder.AdminRole;

    /// <summary>
    /// Creates the database schema when missing, then (when <c>Seed:Enabled</c>) the seeded users that do not exist
    /// yet and the client app's registration, created or brought up to date with the configured URLs.
    /// </summary>
    /// <param name="services">The app's services.</param>
    /// <param name="cancellationToken">Cancels the work.</param>
    public static async Task SeedAsync(IServiceProvider services, CancellationToken cancellationToken = default)
    {
        await using var scope = services.CreateAsyncScope();
        var provider = scope.ServiceProvider;
        var settings = provider.GetRequiredService<IdentityProviderSettings>();

        var db = provider.GetRequiredService<IdpDbContext>();
        if (db.Database.GetDbConnection().DataSource is { Length: > 0 } file && Path.GetDirectoryName(Path.GetFullPath(file)) is { } folder)
        {
            Directory.CreateDirectory(folder);
        }

        await db.Database.EnsureCreatedAsync(cancellationToken);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken);

        if (!settings.SeedEnabled)
        {
            return;
        }

        await DemoUserSeeder.SeedUsersAsync(provider, settings.SeedUsers);
        await SeedClientAsync(provider.GetRequiredService<IOpenIddictApplicationManager>(), settings.ClientApp, cancellationToken);
    }

    private static async Task SeedClientAsync(IOpenIddictApplicationManager applications, ClientRegistration client, CancellationToken cancellationToken)
    {
        var descriptor = new OpenIddictApplicationDescriptor
        {
            ClientId = client.ClientId,
            DisplayName = client.DisplayName,
            ClientType = client.ClientSecret is null ? ClientTypes.Public : ClientTypes.Confidential,
            ConsentType = ConsentTypes.Implicit,
            RedirectUris = { client.Resolve(client.RedirectPath) },
            PostLogoutRedirectUris = { client.Resolve(client.PostLogoutRedirectPath) },
            Permissions =
            {
                Permissions.Endpoints.Authorization,
                Permissions.Endpoints.Token,
                Permissions.Endpoints.EndSession,
                Permissions.Endpoints.Revocation,
                Permissions.GrantTypes.AuthorizationCode,
                Permissions.GrantTypes.RefreshToken,
                Permissions.ResponseTypes.Code,
                Permissions.Scopes.Email,
                Permissions.Scopes.Profile,
                Permissions.Scopes.Roles,
            },
            Requirements = { Requirements.Features.ProofKeyForCodeExchange },
        };
        descriptor.SetBackChannelLogout(client.Resolve(client.BackChannelLogoutPath), sessionRequired: true);

        var existing = await applications.FindByClientIdAsync(client.ClientId, cancellationToken);
        if (existing is null)
        {
            descriptor.ClientSecret = client.ClientSecret;
            await applications.CreateAsync(descriptor, cancellationToken);
        }
        else
        {
            // The client's URLs follow configuration (the demo may move it to other ports); the secret, when given, too.
            descriptor.ClientSecret = client.ClientSecret;
            await applications.UpdateAsync(existing, descriptor, cancellationToken);
        }
    }
}
