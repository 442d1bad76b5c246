using Microsoft.Extensions.Options;
using OpenIddict.Server;

namespace AutoSignOut.IdentityServer.OpenIddict;

/// <summary>Refuses settings the binding cannot work with, when the host starts.</summary>
internal sealed class AutoSignOutOpenIddictOptionsValidator : IValidateOptions<AutoSignOutOpenIddictOptions>
{
    public ValidateOptionsResult Validate(string? name, AutoSignOutOpenIddictOptions options)
    {
        var failures = new List<string>();
        if (options.SessionIdleTimeout is { } idle && idle <= TimeSpan.Zero)
        {
            failures.Add("SessionIdleTimeout must be positive or null.");
        }

        if (options.SessionLifetime is { } lifetime && lifetime <= TimeSpan.Zero)
        {
            failures.Add("SessionLifetime must be positive or null.");
        }

        if (options.SessionExpirationScanInterval <= TimeSpan.Zero)
        {
            failures.Add("SessionExpirationScanInterval must be positive.");
        }

        if (options.EndedSessionRetention < TimeSpan.Zero)
        {
            failures.Add("EndedSessionRetention must not be negative.");
        }

        if (options.Issuer is { } issuer && !issuer.IsAbsoluteUri)
        {
            failures.Add("Issuer must be an absolute URI.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>Checks at start that OpenIddict can sign logout tokens: an issuer and an asymmetric signing key.</summary>
internal sealed class OpenIddictSigningValidator : IValidateOptions<OpenIddictServerOptions>
{
    private readonly IOptionsMonitor<AutoSignOutOpenIddictOptions> _options;

    public OpenIddictSigningValidator(IOptionsMonitor<AutoSignOutOpenIddictOptions> options) => _options = options;

    public ValidateOptionsResult Validate(string? name, OpenIddictServerOptions options)
    {
        var failures = new List<string>();
        if (OpenIddictLogoutSigningCredentialsSource.ResolveIssuer(_options.CurrentValue, options) is null)
        {
            failures.Add("AutoSignOut signs logout tokens outside any request, so it needs a fixed issuer: call SetIssuer(…) on OpenIddict's server options or set AutoSignOutOpenIddictOptions.Issuer.");
        }

        if (OpenIddictLogoutSigningCredentialsSource.FindSigningCredentials(options) is null)
        {
            failures.Add("AutoSignOut needs an asymmetric OpenIddict signing key (RSA or ECDSA) that relying parties can verify from the JWKS.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
