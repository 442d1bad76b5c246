using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using OpenIddict.Server;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>
/// Signs logout tokens with OpenIddict's own issuer and current asymmetric signing key (the first of
/// <see cref="OpenIddictServerOptions.SigningCredentials"/>, which OpenIddict orders by preference), so relying parties
/// validate them with the keys its discovery document and JWKS publish. Key rotation follows OpenIddict's.
/// </summary>
internal sealed class OpenIddictLogoutSigningCredentialsSource : ILogoutSigningCredentialsSource
{
    private readonly IOptionsMonitor<OpenIddictServerOptions> _server;
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;

    public OpenIddictLogoutSigningCredentialsSource(IOptionsMonitor<OpenIddictServerOptions> server, IOptionsMonitor<AutoSignOutOpenIddictOptions> options)
    {
        _server = server;
        _options = options;
    }

    public ValueTask<LogoutSigningCredentials> GetSigningCredentialsAsync(CancellationToken cancellationToken)
    {
        var server = _server.CurrentValue;
        var issuer = ResolveIssuer(_options.CurrentValue, server)
            ?? throw new InvalidOperationException("AutoSignOut needs OpenIddict's issuer: call SetIssuer(…) on the server options or set AutoSignOutOpenIddictOptions.Issuer.");
        var credentials = FindSigningCredentials(server)
            ?? throw new InvalidOperationException("OpenIddict has no asymmetric signing key: relying parties cannot verify a logout token signed otherwise.");
        return ValueTask.FromResult(new LogoutSigningCredentials(issuer, credentials));
    }

    internal static string? ResolveIssuer(AutoSignOutOpenIddictOptions options, OpenIddictServerOptions server) =>
        (options.Issuer ?? server.Issuer)?.AbsoluteUri;

    internal static SigningCredentials? FindSigningCredentials(OpenIddictServerOptions server) =>
        server.SigningCredentials.FirstOrDefault(static c => c.Key is AsymmetricSecurityKey);
}
