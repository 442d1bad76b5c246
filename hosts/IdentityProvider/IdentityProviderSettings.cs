namespace AutoSignOut.IdentityProvider;

/// <summary>The identity provider's settings, read from configuration (see README.md for every key).</summary>
public sealed class IdentityProviderSettings
{
    /// <summary>The issuer (<c>IdentityProvider:Issuer</c>): the public base URL of this IdP, as clients see it.</summary>
    public Uri Issuer { get; init; } = new("http://127.0.0.1:5001/");

    /// <summary>The SQLite connection string (<c>ConnectionStrings:IdentityProvider</c>).</summary>
    public string ConnectionString { get; init; } = "Data Source=data/identity-provider.db";

    /// <summary>The folder holding the persisted signing and encryption keys (<c>IdentityProvider:KeysPath</c>).</summary>
    public string KeysPath { get; init; } = "data/keys";

    /// <summary>Whether plain http is accepted (<c>IdentityProvider:AllowHttp</c>). Demo only: false in production.</summary>
    public bool AllowHttp { get; init; } = true;

    /// <summary>Access token lifetime (<c>IdentityProvider:AccessTokenLifetime</c>).</summary>
    public TimeSpan AccessTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Refresh token lifetime (<c>IdentityProvider:RefreshTokenLifetime</c>).</summary>
    public TimeSpan RefreshTokenLifetime { get; init; } = TimeSpan.FromDays(14);

    /// <summary>An IdP session ends after this long without activity (<c>IdentityProvider:SessionIdleTimeout</c>).</summary>
    public TimeSpan SessionIdleTimeout { get; init; } = TimeSpan.FromMinutes(30);

    /// <summary>An IdP session ends this long after sign-in, whatever the activity (<c>IdentityProvider:SessionLifetime</c>).</summary>
    public TimeSpan SessionLifetime { get; init; } = TimeSpan.FromHours(8);

    /// <summary>How often ended-by-time sessions are looked for (<c>IdentityProvider:SessionExpirationScanInterval</c>).</summary>
    public TimeSpan SessionExpirationScanInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The registered client app (<c>IdentityProvider:ClientApp:*</c>).</summary>
    public ClientRegistration ClientApp { get; init; } = new();

    /// <summary>Whether the demo users, roles and client are created or updated at start (<c>Seed:Enabled</c>).</summary>
    public bool SeedEnabled { get; init; } = true;

    /// <summary>The demo users (<c>Seed:Users</c>).</summary>
    public IReadOnlyList<SeedUser> SeedUsers { get; init; } = [];

    /// <summary>Reads the settings from configuration.</summary>
    /// <param name="configuration">The app's configuration.</param>
    public static IdentityProviderSettings From(IConfiguration configuration)
    {
        var defaults = new IdentityProviderSettings();
        var section = configuration.GetSection("IdentityProvider");
        var issuer = NonEmpty(section["Issuer"]) is { } text ? new Uri(text.EndsWith('/') ? text : text + "/", UriKind.Absolute) : defaults.Issuer;
        var client = section.GetSection("ClientApp");
        var clientDefaults = new ClientRegistration();
        return new IdentityProviderSettings
        {
            Issuer = issuer,
            ConnectionString = NonEmpty(configuration.GetConnectionString("IdentityProvider")) ?? defaults.ConnectionString,
            KeysPath = NonEmpty(section["KeysPath"]) ?? defaults.KeysPath,
            AllowHttp = section.GetValue("AllowHttp", defaults.AllowHttp),
            AccessTokenLifetime = section.GetValue("AccessTokenLifetime", defaults.AccessTokenLifetime),
            RefreshTokenLifetime = section.GetValue("RefreshTokenLifetime", defaults.RefreshTokenLifetime),
            SessionIdleTimeout = section.GetValue("SessionIdleTimeout", defaults.SessionIdleTimeout),
            SessionLifetime = section.GetValue("SessionLifetime", defaults.SessionLifetime),
            SessionExpirationScanInterval = section.GetValue("SessionExpirationScanInterval", defaults.SessionExpirationScanInterval),
            ClientApp = new ClientRegistration
            {
                ClientId = NonEmpty(client["ClientId"]) ?? clientDefaults.ClientId,
                DisplayName = NonEmpty(client["DisplayName"]) ?? clientDefaults.DisplayName,
                ClientSecret = NonEmpty(client["ClientSecret"]),
                BaseUrl = NonEmpty(client["BaseUrl"]) is { } baseUrl ? new Uri(baseUrl.TrimEnd('/'), UriKind.Absolute) : clientDefaults.BaseUrl,
                RedirectPath = NonEmpty(client["RedirectPath"]) ?? clientDefaults.RedirectPath,
                PostLogoutRedirectPath = NonEmpty(client["PostLogoutRedirectPath"]) ?? clientDefaults.PostLogoutRedirectPath,
                BackChannelLogoutPath = NonEmpty(client["BackChannelLogoutPath"]) ?? clientDefaults.BackChannelLogoutPath,
            },
            SeedEnabled = configuration.GetValue("Seed:Enabled", defaults.SeedEnabled),
            SeedUsers = configuration.GetSection("Seed:Users").Get<List<SeedUser>>() ?? [],
        };
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}

/// <summary>How the client app is registered at start.</summary>
public sealed class ClientRegistration
{
    /// <summary>The client id (<c>IdentityProvider:ClientApp:ClientId</c>).</summary>
    public string ClientId { get; init; } = "client-app";

    /// <summary>The name shown to users (<c>IdentityProvider:ClientApp:DisplayName</c>).</summary>
    public string DisplayName { get; init; } = "AutoSignOut demo client";

    /// <summary>The secret (<c>IdentityProvider:ClientApp:ClientSecret</c>); empty: a public client with PKCE.</summary>
    public string? ClientSecret { get; init; }

    /// <summary>The client app's base URL (<c>IdentityProvider:ClientApp:BaseUrl</c>).</summary>
    public Uri BaseUrl { get; init; } = new("http://127.0.0.1:5080");

    /// <summary>The redirect path (<c>IdentityProvider:ClientApp:RedirectPath</c>).</summary>
    public string RedirectPath { get; init; } = "/signin-oidc";

    /// <summary>The post-logout redirect path (<c>IdentityProvider:ClientApp:PostLogoutRedirectPath</c>).</summary>
    public string PostLogoutRedirectPath { get; init; } = "/signout-callback-oidc";

    /// <summary>The back-channel logout path (<c>IdentityProvider:ClientApp:BackChannelLogoutPath</c>).</summary>
    public string BackChannelLogoutPath { get; init; } = "/signout-backchannel";

    /// <summary>Resolves a path against <see cref="BaseUrl"/>.</summary>
    /// <param name="path">An absolute path.</param>
    public Uri Resolve(string path) => new(BaseUrl.AbsoluteUri.TrimEnd('/') + path, UriKind.Absolute);
}

/// <summary>A demo user created at start when missing.</summary>
public sealed class SeedUser
{
    /// <summary>The user name (also the sign-in name).</summary>
    public string UserName { get; set; } = string.Empty;

    /// <summary>The email address (also accepted at sign-in).</summary>
    public string Email { get; set; } = string.Empty;

    /// <summary>The display name (<c>name</c> claim).</summary>
    public string? Name { get; set; }

    /// <summary>The password set when the user is created (a later change is kept).</summary>
    public string Password { get; set; } = string.Empty;

    /// <summary>The roles (<c>role</c> claims), such as <c>admin</c>.</summary>
    public List<string> Roles { get; set; } = [];
}
