using Duende.IdentityServer.Configuration;
using Duende.IdentityServer.Services;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace AutoSignOut.IdentityServer.Duende;

/// <summary>
/// Signs logout tokens with IdentityServer's own current signing key (<see cref="IKeyMaterialService"/>: static keys
/// from <c>AddSigningCredential</c> or automatic key management, whichever the host uses) and its issuer, so relying
/// parties verify them with the keys its discovery document and JWKS publish.
/// </summary>
/// <remarks>
/// The issuer is <see cref="AutoSignOutDuendeOptions.Issuer"/>, else <see cref="IdentityServerOptions.IssuerUri"/>, else
/// the issuer IdentityServer computed for the request that caused the revocation (remembered for retries outside any
/// request).
/// </remarks>
internal sealed class DuendeLogoutSigningCredentialsSource : ILogoutSigningCredentialsSource
{
    private readonly IServiceScopeFactory _scopes;
    private readonly IHttpContextAccessor _http;
    private readonly IOptionsMonitor<AutoSignOutDuendeOptions> _options;
    private string? _remembered;

    public DuendeLogoutSigningCredentialsSource(IServiceScopeFactory scopes, IHttpContextAccessor http, IOptionsMonitor<AutoSignOutDuendeOptions> options)
    {
        _scopes = scopes;
        _http = http;
        _options = options;
    }

    /// <summary>Remembers an issuer IdentityServer reported (a logout notification context carries it).</summary>
    public void Remember(string? issuer)
    {
        if (!string.IsNullOrEmpty(issuer))
        {
            Volatile.Write(ref _remembered, issuer);
        }
    }

    public async ValueTask<LogoutSigningCredentials> GetSigningCredentialsAsync(CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var issuer = await ResolveIssuerAsync(scope.ServiceProvider).ConfigureAwait(false)
            ?? throw new InvalidOperationException("AutoSignOut does not know IdentityServer's issuer yet: set IdentityServerOptions.IssuerUri or AutoSignOutDuendeOptions.Issuer.");
        var credentials = await scope.ServiceProvider.GetRequiredService<IKeyMaterialService>().GetSigningCredentialsAsync().ConfigureAwait(false);
        if (credentials?.Key is not AsymmetricSecurityKey)
        {
            throw new InvalidOperationException("IdentityServer has no asymmetric signing key: relying parties cannot verify a logout token signed otherwise.");
        }

        return new LogoutSigningCredentials(issuer, credentials);
    }

    private async Task<string?> ResolveIssuerAsync(IServiceProvider services)
    {
        if (_options.CurrentValue.Issuer is { } configured)
        {
            return configured;
        }

        if (services.GetRequiredService<IdentityServerOptions>().IssuerUri is { Length: > 0 } fixedIssuer)
        {
            return fixedIssuer;
        }

        if (_http.HttpContext is { } context && context.RequestServices.GetService<IIssuerNameService>() is { } names)
        {
            Remember(await names.GetCurrentAsync().ConfigureAwait(false));
        }

        return Volatile.Read(ref _remembered);
    }
}
