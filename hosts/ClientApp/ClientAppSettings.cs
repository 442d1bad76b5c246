namespace AutoSignOut.ClientApp;

/// <summary>The app's settings, read from configuration (see README.md for every key).</summary>
public sealed class ClientAppSettings
{
    /// <summary>The OpenID Provider's authority (<c>Oidc:Authority</c>); empty: no OIDC, local sign-in only.</summary>
    public string? Authority { get; init; }

    /// <summary>
    /// The OP's exact issuer (<c>Oidc:Issuer</c>), when it differs from the authority as written, such as with a trailing
    /// slash; empty: the issuer of the OP's discovery document.
    /// </summary>
    public string? Issuer { get; init; }

    /// <summary>This app's client id at the OP (<c>Oidc:ClientId</c>); also the audience of logout tokens.</summary>
    public string ClientId { get; init; } = "client-app";

    /// <summary>The client secret (<c>Oidc:ClientSecret</c>); empty for a public client with PKCE.</summary>
    public string? ClientSecret { get; init; }

    /// <summary>The scopes requested at sign-in (<c>Oidc:Scopes</c>, space-separated).</summary>
    public IReadOnlyList<string> Scopes { get; init; } = ["openid", "profile"];

    /// <summary>The audience of bearer tokens the chat hub accepts (<c>Oidc:ApiAudience</c>); default: the client id.</summary>
    public string ApiAudience { get; init; } = "client-app";

    /// <summary>Whether the OP's metadata must be fetched over HTTPS (<c>Oidc:RequireHttpsMetadata</c>).</summary>
    public bool RequireHttpsMetadata { get; init; } = true;

    /// <summary>The OIDC redirect path (<c>Oidc:CallbackPath</c>).</summary>
    public string CallbackPath { get; init; } = "/signin-oidc";

    /// <summary>The OIDC post-logout redirect path (<c>Oidc:SignedOutCallbackPath</c>).</summary>
    public string SignedOutCallbackPath { get; init; } = "/signout-callback-oidc";

    /// <summary>The back-channel logout endpoint (<c>AutoSignOut:BackChannelLogoutPath</c>).</summary>
    public string BackChannelLogoutPath { get; init; } = "/signout-backchannel";

    /// <summary>Where a signed-out circuit is sent (<c>AutoSignOut:SignedOutPath</c>).</summary>
    public string SignedOutPath { get; init; } = "/signed-out";

    /// <summary>The chat hub's path (<c>ClientApp:ChatHubPath</c>).</summary>
    public string ChatHubPath { get; init; } = "/hubs/chat";

    /// <summary>Whether the demonstration sign-in by user name is offered (<c>ClientApp:LocalSignIn</c>).</summary>
    public bool LocalSignIn { get; init; } = true;

    /// <summary>
    /// Local user names given the <c>admin</c> role at the demonstration sign-in (<c>ClientApp:LocalAdmins</c>,
    /// space-separated). Default: none; provider users get the role from the provider's <c>role</c> claim.
    /// </summary>
    public IReadOnlyList<string> LocalAdmins { get; init; } = [];

    /// <summary>Whether an OpenID Provider is configured.</summary>
    public bool OidcEnabled => !string.IsNullOrWhiteSpace(Authority);

    /// <summary>Reads the settings from configuration.</summary>
    /// <param name="configuration">The app's configuration.</param>
    public static ClientAppSettings From(IConfiguration configuration)
    {
        var defaults = new ClientAppSettings();
        var clientId = NonEmpty(configuration["Oidc:ClientId"]) ?? defaults.ClientId;
        return new ClientAppSettings
        {
            Authority = NonEmpty(configuration["Oidc:Authority"]),
            Issuer = NonEmpty(configuration["Oidc:Issuer"]),
            ClientId = clientId,
            ClientSecret = NonEmpty(configuration["Oidc:ClientSecret"]),
            Scopes = NonEmpty(configuration["Oidc:Scopes"])?.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? defaults.Scopes,
            ApiAudience = NonEmpty(configuration["Oidc:ApiAudience"]) ?? clientId,
            RequireHttpsMetadata = configuration.GetValue("Oidc:RequireHttpsMetadata", defaults.RequireHttpsMetadata),
            CallbackPath = NonEmpty(configuration["Oidc:CallbackPath"]) ?? defaults.CallbackPath,
            SignedOutCallbackPath = NonEmpty(configuration["Oidc:SignedOutCallbackPath"]) ?? defaults.SignedOutCallbackPath,
            BackChannelLogoutPath = NonEmpty(configuration["AutoSignOut:BackChannelLogoutPath"]) ?? defaults.BackChannelLogoutPath,
            SignedOutPath = NonEmpty(configuration["AutoSignOut:SignedOutPath"]) ?? defaults.SignedOutPath,
            ChatHubPath = NonEmpty(configuration["ClientApp:ChatHubPath"]) ?? defaults.ChatHubPath,
            LocalSignIn = configuration.GetValue("ClientApp:LocalSignIn", defaults.LocalSignIn),
            LocalAdmins = NonEmpty(configuration["ClientApp:LocalAdmins"])?.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [],
        };
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
