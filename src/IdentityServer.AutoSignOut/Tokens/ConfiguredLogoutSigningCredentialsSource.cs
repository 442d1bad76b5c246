using Microsoft.Extensions.Options;

namespace AutoSignOut.IdentityServer;

/// <summary>
/// A signing source that reads <see cref="AutoSignOutServerOptions.Issuer"/> and
/// <see cref="AutoSignOutServerOptions.SigningCredentials"/>. Bindings replace it with the IdP's own key material.
/// </summary>
public sealed class ConfiguredLogoutSigningCredentialsSource : ILogoutSigningCredentialsSource
{
    private readonly IOptionsMonitor<AutoSignOutServerOptions> _options;

    /// <summary>Creates the source over the configured issuer and key.</summary>
    /// <param name="options">The engine options holding the issuer and key.</param>
    public ConfiguredLogoutSigningCredentialsSource(IOptionsMonitor<AutoSignOutServerOptions> options) => _options = options;

    /// <inheritdoc/>
    public ValueTask<LogoutSigningCredentials> GetSigningCredentialsAsync(CancellationToken cancellationToken)
    {
        EnsureConfigured();
        var options = _options.CurrentValue;
        return ValueTask.FromResult(new LogoutSigningCredentials(options.Issuer!, options.SigningCredentials!));
    }

    internal void EnsureConfigured()
    {
        var options = _options.CurrentValue;
        if (string.IsNullOrEmpty(options.Issuer) || options.SigningCredentials is null)
        {
            throw new OptionsValidationException(nameof(AutoSignOutServerOptions), typeof(AutoSignOutServerOptions),
                ["AutoSignOutServerOptions.Issuer and SigningCredentials are required unless an ILogoutSigningCredentialsSource is registered (an IdP binding does that)."]);
        }
    }
}
